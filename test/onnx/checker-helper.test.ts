import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOfficialChecker } from '../helpers/onnx-checker.ts';
import { freshDir } from './targets.ts';

describe('runOfficialChecker', () => {
  it('fails loudly, instead of passing, when python3 cannot import onnx', async () => {
    const dir = await freshDir('checker-no-onnx');
    await mkdir(path.join(dir, 'onnx'));
    await writeFile(path.join(dir, 'onnx', '__init__.py'), 'raise ImportError("shadowed for the test")\n');
    expect(() =>
      runOfficialChecker(path.join(dir, 'model.onnx'), { ...process.env, PYTHONPATH: dir }),
    ).toThrow(/has no onnx module.*shadowed for the test/);
  });

  it('reports a file that is not a model as a failed check', async () => {
    const dir = await freshDir('checker-garbage');
    await writeFile(path.join(dir, 'model.onnx'), 'not a model');
    const result = runOfficialChecker(path.join(dir, 'model.onnx'));
    expect(result.ok).toBe(false);
    expect(result.output).not.toBe('');
  });
});
