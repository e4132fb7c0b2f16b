/**
 * `--dry-run`: the real CLI inspects the checkpoint, prints the summary the tab shows before converting
 * (what was loaded, every file that would be written with its size, the formats, the check) and
 * writes nothing: no output folder, no staging folder, exit 0. The sizes it prints are the sizes a real
 * run writes.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../scripts/make-fixtures.ts';
import { runCli } from '../helpers/cli.ts';
import { writeSafetensorsFile } from '../helpers/synthetic-files.ts';

let root: string;
let input: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-dry-run-'));
  input = await writeSafetensorsFile(path.join(root, 'input'), FIXTURES['packed-untied']);
  writeFileSync(path.join(input, 'tokenizer.json'), '{"version":"1.0"}');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `  name   size  role` lines of the printed plan. */
const plannedFiles = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('  '))
    .map((l) => l.trim().split(/\s{2,}/));

describe('--dry-run', () => {
  it('prints the folder it would write, file by file, and writes nothing', () => {
    const out = path.join(root, 'folder-out');
    const run = runCli(['-i', input, '--output-dir', out, '--format', 'int2,int8', '--dry-run']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^input: model\.safetensors, .* 39 tensors \(39 used\)$/m);
    expect(run.stdout).toMatch(/^model: packed-autobitlinear, vocab 320, .* 2 layers, .* untied head$/m);
    expect(run.stdout).toContain(`layout: model folder → ${out}`);
    expect(run.stdout).toContain(
      'format: int2 (block 128) weights, fp32 embedding, exact head (the default)',
    );
    expect(run.stdout).toContain('format: int8 weights, fp32 embedding, exact head');
    expect(plannedFiles(run.stdout).map(([name, , role]) => [name, role])).toEqual([
      ['onnx/model_q2.onnx', 'model'],
      ['onnx/model_int8.onnx', 'model'],
      ['config.json', 'written'],
      ['generation_config.json', 'written'],
      ['genai_config.json', 'written'],
      ['tokenizer.json', 'copied from the input'],
    ]);
    expect(run.stdout).toMatch(/^check: structure, then onnxruntime against the reference forward pass$/m);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('dry run: nothing was written');
    expect(existsSync(out)).toBe(false);
    // Nothing beside it either (no staging folder).
    expect(readdirSync(root).sort()).toEqual(['input']);
  });

  it('prints the sizes a real run then writes', () => {
    const out = path.join(root, 'sizes');
    const dry = runCli(['-i', input, '--output-dir', out, '--format', 'int8', '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    const real = runCli(['-i', input, '--output-dir', out, '--format', 'int8', '--no-check']);
    expect(real.status, real.stderr).toBe(0);
    const kB = (name: string) => statSync(path.join(out, name)).size / 1000;
    for (const [name, size] of plannedFiles(dry.stdout)) {
      const [value, unit] = size.split(' ');
      const printed = unit === 'B' ? Number(value) / 1000 : Number(value);
      expect(unit === 'B' || unit === 'kB', size).toBe(true);
      expect(Math.abs(printed - kB(name)), name).toBeLessThan(kB(name) * 0.01);
    }
    rmSync(out, { recursive: true, force: true });
  });

  it('a single --output file: the model alone; a bad input fails as a conversion would', () => {
    mkdirSync(path.join(root, 'single'));
    const out = path.join(root, 'single', 'm.onnx');
    const run = runCli(['-i', input, '-o', out, '--format', 'int2', '--no-check', '--dry-run']);
    expect(run.status, run.stderr).toBe(0);
    expect(plannedFiles(run.stdout).map(([name]) => name)).toEqual(['m.onnx']);
    expect(run.stdout).toContain('check: structure only (the onnxruntime check is off)');
    expect(readdirSync(path.join(root, 'single'))).toEqual([]);

    mkdirSync(path.join(root, 'bad'));
    writeFileSync(path.join(root, 'bad', 'notes.json'), '{}');
    const bad = runCli(['-i', path.join(root, 'bad', 'notes.json'), '-o', out, '--dry-run']);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^bitnet2onnx: notes\.json: no safetensors checkpoint found/);
    expect(bad.stdout).toBe('');
    for (const dir of ['single', 'bad']) rmSync(path.join(root, dir), { recursive: true, force: true });
  });

  it('is listed in --help', () => {
    const help = runCli(['--help']);
    expect(help.stdout).toMatch(/--dry-run +read the checkpoint's headers/);
  });
});
