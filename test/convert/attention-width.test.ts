/**
 * attn_sub_norm normalises the concatenated attention heads, numHeads · headDim features (docs/spec.md §2),
 * which is not hidden_size once config.json sets its own head_dim. These checkpoints have hidden 64 but
 * 4 heads of 8 (attention width 32): the conversion must run in onnxruntime and agree with the reference.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TINY_DIMS } from '../../scripts/make-fixtures.ts';
import { defaultFormat, type WeightFormat } from '../../src/core/formats/registry.ts';
import { syntheticCheckpoint } from '../../src/core/bitnet/synthetic.ts';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import type { RuntimeCheckReport } from '../../src/core/check/runtime-check.ts';
import { runtimeVerify } from '../../src/core/check/verify.ts';
import { convertModel } from '../../src/core/convert/convert.ts';
import { writeSafetensors, type SafetensorsTensorSpec } from '../../src/core/safetensors/writer.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import {
  createNodeOutputTarget,
  NodeFileSink,
  openNodeInput,
  type NodeOutputTarget,
} from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';

const NARROW: BitNetDims = { ...TINY_DIMS, numHeads: 4, numKvHeads: 2, headDim: 8 };

const root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-attn-width-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function writeCheckpoint(
  name: string,
  config: Record<string, unknown>,
  tensors: SafetensorsTensorSpec[],
): Promise<string> {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const sink = await NodeFileSink.create(path.join(dir, 'model.safetensors'));
  await writeSafetensors(sink, tensors);
  await sink.close();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

async function convert(dir: string, weights: WeightFormat, out: string) {
  const kernels = await loadNodeKernels();
  const format = { ...defaultFormat(weights), exact: true };
  const reports: RuntimeCheckReport[] = [];
  const input = await openNodeInput(dir);
  try {
    await convertModel({
      input,
      target: createNodeOutputTarget(path.join(root, 'out', out, 'model.onnx')),
      kernels,
      format,
      verify: runtimeVerify({
        kernels,
        format,
        onReport: (report) => reports.push(report),
        openSession: (t, file) => openNodeSession((t as NodeOutputTarget).stagedPath(file)),
        scratchTarget: () => createNodeOutputTarget(path.join(root, 'scratch', out, 'probe.onnx')),
      }),
    });
  } finally {
    await input.close();
  }
  return reports;
}

describe('attn_sub_norm width (docs/spec.md §2)', () => {
  it('converts a checkpoint whose heads are narrower than hidden, and onnxruntime agrees with the reference', async () => {
    const { config, tensors } = syntheticCheckpoint({
      dims: NARROW,
      variant: 'packed-autobitlinear',
      seed: 5,
    });
    expect(config.head_dim).toBe(8);
    const norm = tensors.find((t) => t.name === 'model.layers.0.self_attn.attn_sub_norm.weight');
    expect(norm?.shape).toEqual([NARROW.numHeads * NARROW.headDim]);
    expect(NARROW.numHeads * NARROW.headDim).not.toBe(NARROW.hiddenSize);

    const dir = await writeCheckpoint('narrow', config, tensors);
    for (const weights of ['fp32', 'int8', 'int2'] as const) {
      const reports = await convert(dir, weights, `narrow-${weights}`);
      expect(reports, weights).toHaveLength(1);
      expect(reports[0].passed, weights).toBe(true);
      expect(reports[0].full.argmaxAgree, weights).toBe(reports[0].full.positions);
    }
  });

  it('refuses an attn_sub_norm sized hidden_size when the heads are narrower, naming the tensor', async () => {
    const narrow = syntheticCheckpoint({ dims: NARROW, variant: 'packed-autobitlinear', seed: 5 });
    // The same tensor from a model whose heads do span hidden: [64] where [32] belongs.
    const wide = syntheticCheckpoint({ dims: TINY_DIMS, variant: 'packed-autobitlinear', seed: 5 });
    const name = 'model.layers.1.self_attn.attn_sub_norm.weight';
    const tensors = narrow.tensors.map((t) =>
      t.name === name ? wide.tensors.find((w) => w.name === name)! : t,
    );
    const dir = await writeCheckpoint('hidden-wide-norm', narrow.config, tensors);

    await expect(convert(dir, 'fp32', 'hidden-wide-norm')).rejects.toThrow(
      /attn_sub_norm\.weight.*expected \[32\].*found \[64\]/,
    );
    const outDir = path.join(root, 'out', 'hidden-wide-norm');
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  });
});
