import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planLayout } from '../../src/core/onnx/layout.ts';
import { writeModel } from '../../src/core/onnx/writer.ts';
import { createNodeOutputTarget } from '../../src/platform/node/node-files.ts';
import { PYTHON, runOfficialChecker } from '../helpers/onnx-checker.ts';
import { buildSampleModel } from './sample-model.ts';
import { freshDir } from './targets.ts';

/** The sample model as the writer produces it, committed to `dir/model.onnx`. */
async function writeSampleModel(dir: string): Promise<string> {
  const sample = buildSampleModel();
  const target = createNodeOutputTarget(path.join(dir, 'model.onnx'));
  await writeModel({
    graph: sample.graph,
    layout: planLayout(sample.graph.weights, { modelFile: 'model.onnx', external: 'never' }),
    target,
    fill: sample.fill,
    producerName: 'bitnet2onnx-test',
    producerVersion: '0.0.0',
  });
  await target.commit();
  return path.join(dir, 'model.onnx');
}

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

  // docs/spec.md §4: the reason the helper does not use the one-liner.
  it("onnx 1.12's check_model(path, full_check=True) rewrites the file; the helper leaves it byte for byte", async () => {
    const dir = await freshDir('checker-rewrite');
    const model = await writeSampleModel(dir);
    const written = await readFile(model);

    const checked = runOfficialChecker(model);
    expect(checked.output).toMatch(/^ok \(onnx 1\.12\./);
    expect(Buffer.compare(await readFile(model), written)).toBe(0);

    const copy = path.join(dir, 'one-liner.onnx');
    await copyFile(model, copy);
    const oneLiner = spawnSync(
      PYTHON,
      ['-c', 'import sys, onnx; onnx.checker.check_model(sys.argv[1], full_check=True)', copy],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(oneLiner.status, oneLiner.stderr).toBe(0);
    expect(Buffer.compare(await readFile(copy), written)).not.toBe(0);
  });
});
