import { throwIfAborted } from '../errors.ts';
import type { ProjectionSource } from '../bitnet/model-plan.ts';
import {
  asBytes,
  inFeatures,
  outFeatures,
  OUTPUT_STEP_BYTES,
  type ProjectionReader,
  type WeightFormatModule,
} from './format.ts';

/**
 * 2-bit ternary codes for com.microsoft MatMulNBits (bits 2, accuracy_level 4: int8 kernels), made exact
 * by pinned blocks (docs/spec.md §7): onnxruntime re-quantises its input per block of `block_size` with
 * scale max|a| / 127, so every block carries blockSize − 1 activations plus one element equal to 127
 * whose weight is zero. Each block's scale is then exactly 1, the re-quantisation is the identity and
 * the integer products are exact. Block scales are 1; the checkpoint's scale is applied after the product.
 */
export const int2Format: WeightFormatModule<'int2'> = {
  id: 'int2',
  label: '2-bit',
  summary: '2-bit weights, com.microsoft MatMulNBits with pinned blocks (exact; onnxruntime)',
  fileSuffix: '_q2',
  transformersJsDtype: 'q2',
  graphStyle: 'onnxruntime',
  blockwise: true,
  accumulate({ g, options, weight }, input, group, name) {
    const bs = options.blockSize;
    const n = outFeatures(group);
    const blocks = pinnedBlocks(inFeatures(group), bs);
    const w = weight(`${name}.weight`, 'uint8', [n, blocks, bs / 4], {
      kind: 'format',
      format: 'int2',
      part: 'weight',
      group,
      options,
    });
    const ones = weight(`${name}.weight_block_scales`, 'float32', [n * blocks], {
      kind: 'format',
      format: 'int2',
      part: 'block-scales',
      group,
      options,
    });
    const attrs = {
      K: { i: blocks * bs },
      N: { i: n },
      bits: { i: 2 },
      block_size: { i: bs },
      accuracy_level: { i: 4 },
    };
    return g.op('MatMulNBits', [input.pinned(bs), w, ones], attrs, 'com.microsoft');
  },
  async fill(part, group, options, reader, emit) {
    const bs = options.blockSize;
    const blocks = pinnedBlocks(inFeatures(group), bs);
    if (part === 'block-scales') return fillOnes(outFeatures(group) * blocks, emit);
    for (const p of group) await fillPinnedCodes(p, bs, reader, emit);
  },
  metadata: (o) => ({ block_size: o.blockSize, accuracy_level: 4, pinned_blocks: 1 }),
};

/** Blocks of a pinned row: each holds blockSize − 1 values of K, plus its pin. */
export function pinnedBlocks(K: number, blockSize: number): number {
  return Math.ceil(K / (blockSize - 1));
}

async function fillPinnedCodes(
  p: ProjectionSource,
  bs: number,
  reader: ProjectionReader,
  emit: (b: Uint8Array) => Promise<void>,
) {
  const [out, inp] = p.shape;
  const packed = await reader.packed(p);
  if (packed) {
    for (let block = 0; block < 4; block++) {
      throwIfAborted(reader.signal);
      const rows = reader.kernels.unpackTernaryI8(packed, block);
      await emit(reader.kernels.packNBits2Pinned(rows, out / 4, inp, bs));
    }
    return;
  }
  const ternary = await reader.ternaryI8(p);
  const step = Math.max(1, Math.floor(OUTPUT_STEP_BYTES / inp));
  for (let r = 0; r < out; r += step) {
    throwIfAborted(reader.signal);
    const end = Math.min(out, r + step);
    await emit(reader.kernels.packNBits2Pinned(ternary.subarray(r * inp, end * inp), end - r, inp, bs));
  }
}

async function fillOnes(count: number, emit: (b: Uint8Array) => Promise<void>): Promise<void> {
  const chunk = new Float32Array(Math.min(count, OUTPUT_STEP_BYTES / 4)).fill(1);
  for (let done = 0; done < count; done += chunk.length) {
    await emit(asBytes(chunk.subarray(0, Math.min(chunk.length, count - done))));
  }
}
