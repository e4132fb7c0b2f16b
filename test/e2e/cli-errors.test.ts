/**
 * The real CLI meeting a hostile environment: every failure ends in one line that names the path and
 * says what to do, exit code 3 (README: Exit codes), no stack unless --debug, and nothing left behind.
 * Full disk and a native library that will not load are injected at the system boundary by a preload
 * module (test/helpers/preload); everything else is the real file system.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../scripts/make-fixtures.ts';
import { runCli, type CliRun } from '../helpers/cli.ts';
import { writeSafetensorsFile } from '../helpers/synthetic-files.ts';

const preload = (name: string) => ['--import', new URL(`../helpers/preload/${name}`, import.meta.url).href];

let root: string;
let input: string;
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-cli-errors-'));
  chmodSync(root, 0o755);
  input = await writeSafetensorsFile(path.join(root, 'in'), FIXTURES['packed-tied']);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every path under `dir`, hidden ones included. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** A fresh folder for one case, and what it held before the run (to prove nothing is left). */
function place(name: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function expectOneActionableLine(run: CliRun, pathShown: string, what: RegExp) {
  const lines = run.stderr.trim().split('\n');
  const last = lines[lines.length - 1];
  expect(run.status, run.stderr).toBe(3);
  expect(last.startsWith(`bitnet2onnx: ${pathShown}: `), last).toBe(true);
  expect(last).toMatch(what);
  // What to do comes after the semicolon.
  expect(last).toMatch(/; [a-z].+/);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr).not.toMatch(/internal error/);
}

/** Root ignores permission bits: run the CLI as nobody then, so EACCES is real either way. */
const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

describe('CLI environment errors: one line, exit 3, nothing left', () => {
  it('--output under a file (ENOTDIR)', () => {
    const dir = place('enotdir');
    writeFileSync(path.join(dir, 'afile'), 'x');
    const run = runCli(['-i', input, '-o', path.join(dir, 'afile', 'model.onnx'), '--no-check']);
    expectOneActionableLine(run, path.join(dir, 'afile'), /not a folder \(ENOTDIR\)/);
    expect(tree(dir)).toEqual(['afile']);
  });

  it('--output that is a folder (EISDIR), refused before any work', () => {
    const dir = place('eisdir');
    mkdirSync(path.join(dir, 'model.onnx'));
    const run = runCli(['-i', input, '-o', path.join(dir, 'model.onnx'), '--no-check']);
    expectOneActionableLine(run, path.join(dir, 'model.onnx'), /is a folder \(EISDIR\).*--output-dir/);
    expect(run.stderr).not.toMatch(/wrote/);
    expect(tree(dir)).toEqual(['model.onnx']);
  });

  it('--output in a folder the user cannot write (EACCES)', () => {
    const dir = place('eacces');
    const ro = path.join(dir, 'ro');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const run = runCli(['-i', input, '-o', path.join(ro, 'sub', 'model.onnx'), '--no-check'], [], asUser);
    expectOneActionableLine(run, path.join(ro, 'sub'), /permission denied \(EACCES\).*folder you can write/);
    expect(tree(dir)).toEqual(['ro']);
  });

  it('an input the user cannot read (EACCES)', () => {
    const dir = place('unreadable');
    const copy = path.join(dir, 'in');
    mkdirSync(copy);
    for (const f of readdirSync(input)) {
      copyFileSync(path.join(input, f), path.join(copy, f));
    }
    chmodSync(path.join(copy, 'model.safetensors'), 0o000);
    const out = path.join(dir, 'out');
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    const run = runCli(['-i', copy, '-o', path.join(out, 'model.onnx'), '--no-check'], [], asUser);
    expectOneActionableLine(run, path.join(copy, 'model.safetensors'), /cannot read: permission denied/);
    expect(tree(out)).toEqual([]);
  });

  it('a disk that fills up mid-write (ENOSPC after 100 kB): the created folders go too', () => {
    const dir = place('enospc');
    const model = path.join(dir, 'new', 'deeper', 'model.onnx');
    const run = runCli(['-i', input, '-o', model, '--no-check'], preload('fail-writes.mjs'), {
      env: { ...process.env, FAIL_WRITES_AFTER: '100000', FAIL_WRITES_CODE: 'ENOSPC' },
    });
    expectOneActionableLine(run, model, /the disk is full \(ENOSPC\); free space/);
    expect(tree(dir)).toEqual([]);
  });

  it('the same run without the injected failure writes the model (the injection is what failed it)', () => {
    const dir = place('enospc-control');
    const model = path.join(dir, 'new', 'model.onnx');
    const run = runCli(['-i', input, '-o', model, '--no-check'], preload('fail-writes.mjs'), {
      env: { ...process.env, FAIL_WRITES_AFTER: String(1e12) },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(tree(dir)).toEqual(['new', path.join('new', 'model.onnx')]);
  });

  it('onnxruntime-node that will not load: a clear line; --no-check never loads it', () => {
    const dir = place('no-ort');
    const model = path.join(dir, 'model.onnx');
    const run = runCli(['-i', input, '-o', model], preload('no-onnxruntime.mjs'));
    expectOneActionableLine(run, 'onnxruntime-node', /native library failed to load.*--no-check/);
    expect(tree(dir)).toEqual([]);

    const skipped = runCli(['-i', input, '-o', model, '--no-check'], preload('no-onnxruntime.mjs'));
    expect(skipped.status, skipped.stderr).toBe(0);
    expect(tree(dir)).toEqual(['model.onnx']);
  });

  it('--debug adds the stack (and its cause) to the same line', () => {
    const dir = place('debug');
    mkdirSync(path.join(dir, 'model.onnx'));
    const run = runCli(['-i', input, '-o', path.join(dir, 'model.onnx'), '--no-check', '--debug']);
    expect(run.status).toBe(3);
    expect(run.stderr.split('\n')[0]).toMatch(/^bitnet2onnx: .*is a folder \(EISDIR\)/);
    expect(run.stderr).toMatch(/^\s+at /m);
  });
});

describe('CLI input errors keep exit 1', () => {
  it('an input path that does not exist', () => {
    const run = runCli(['-i', path.join(root, 'nothing'), '-o', path.join(root, 'x', 'm.onnx')]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
