/**
 * onnxruntime-node's native library is loaded only when a check opens a session: `--help`, `--version`,
 * `app --help` and a `--no-check` conversion never load it. Proven on the real CLI with a preload that lists
 * every native addon the process dlopen()s; a checked conversion is the control that the tracing sees it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, type FixtureName } from '../../scripts/make-fixtures.ts';
import { runCli } from '../helpers/cli.ts';

const TRACE = ['--require', fileURLToPath(new URL('../helpers/trace-dlopen.cjs', import.meta.url))];

let root: string;
let fixtures: Record<FixtureName, string>;
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-lazy-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the CLI under the trace; returns its exit status, stdout and the native addons it loaded. */
function traced(args: string[]) {
  const run = runCli(args, TRACE);
  const line = run.stderr.match(/^\[dlopen\] (.*)$/m);
  expect(line, run.stderr).not.toBeNull();
  return {
    status: run.status,
    stdout: run.stdout,
    stderr: run.stderr,
    loaded: JSON.parse(line![1]) as string[],
  };
}

const ORT_BINDING = /onnxruntime-node[\\/].*onnxruntime_binding\.node$/;

describe('onnxruntime-node is loaded lazily', () => {
  it.each(['--help', '--version', 'app --help'])('`%s` loads no native library', (command) => {
    const run = traced(command.split(' '));
    expect(run.status).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(0);
    expect(run.loaded).toEqual([]);
  });

  it('--version prints the package version', () => {
    const run = traced(['--version']);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a --no-check conversion never loads onnxruntime-node', () => {
    const run = traced([
      '-i',
      fixtures['packed-tied'],
      '-o',
      path.join(root, 'nocheck/model.onnx'),
      '--no-check',
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.loaded.filter((f) => ORT_BINDING.test(f))).toEqual([]);
  });

  it('a checked conversion does load it (the trace sees the binding)', () => {
    const run = traced(['-i', fixtures['packed-tied'], '-o', path.join(root, 'checked/model.onnx')]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.loaded.filter((f) => ORT_BINDING.test(f))).toHaveLength(1);
  });
});
