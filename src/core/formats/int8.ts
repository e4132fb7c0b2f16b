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
 * Ternary int8 weights [in, Σ out] and MatMulInteger on the quantised activations shifted to uint8
 * (xq + 128, zero point 128: the form onnxruntime's WASM kernels accept). Integer products, exact.
 */
export const int8Format: WeightFormatModule<'int8'> = {
  id: 'int8',
  label: 'int8',
  summary: 'ternary int8 weights, MatMulInteger (exact)',
  fileSuffix: '_int8',
  transformersJsDtype: 'int8',
  graphStyle: 'onnxruntime',
  blockwise: false,
  accumulate({ g, options, weight }, input, group, name) {
    const w = weight(`${name}.weight`, 'int8', [inFeatures(group), outFeatures(group)], {
      kind: 'format',
      format: 'int8',
      part: 'weight',
      group,
      options,
    });
    const zeroPoint = g.constant('uint8', [], [128]);
    return g.op('Cast', [g.op('MatMulInteger', [input.unsigned(), w, zeroPoint])], { to: { i: 1 } });
  },
  async fill(_part, group, _options, reader, emit) {
    const inp = inFeatures(group);
    const total = outFeatures(group);
    const sources = await Promise.all(group.map((p) => transposedColumns(p, reader)));
    const step = Math.max(1, Math.floor(OUTPUT_STEP_BYTES / total));
    for (let k = 0; k < inp; k += step) {
      throwIfAborted(reader.signal);
      const end = Math.min(inp, k + step);
      if (sources.length === 1) {
        await emit(asBytes(sources[0](k, end)));
        continue;
      }
      // Row kk of the fused [in, Σ out] matrix is each projection's row kk, side by side.
      const chunk = new Int8Array((end - k) * total);
      let col = 0;
      for (let i = 0; i < sources.length; i++) {
        const part = sources[i](k, end);
        const out = group[i].shape[0];
        for (let r = 0; r < end - k; r++) chunk.set(part.subarray(r * out, (r + 1) * out), r * total + col);
        col += out;
      }
      await emit(asBytes(chunk));
    }
  },
  metadata: () => ({}),
};

/** Rows k0..k1 of a projection's Tᵀ [in, out], from the packed bytes or the ternarised master weight. */
async function transposedColumns(
  p: ProjectionSource,
  reader: ProjectionReader,
): Promise<(k0: number, k1: number) => Int8Array> {
  const [out, inp] = p.shape;
  const packed = await reader.packed(p);
  if (packed) {
    // The kernel's output view is only valid until its next call: copy it out.
    return (k0, k1) => reader.kernels.transposedTernaryI8(packed, out / 4, inp, k0, k1).slice();
  }
  const ternary = await reader.ternaryI8(p);
  return (k0, k1) => {
    const chunk = new Int8Array((k1 - k0) * out);
    for (let kk = k0; kk < k1; kk++) {
      const row = (kk - k0) * out;
      for (let o = 0; o < out; o++) chunk[row + o] = ternary[o * inp + kk];
    }
    return chunk;
  };
}
