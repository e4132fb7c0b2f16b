import { throwIfAborted } from '../errors.ts';
import { asBytes, type WeightFormatModule } from './format.ts';

/** Ternary values as float32 [out, in], one Gemm(transB) per projection: the original tool's output, exact. */
export const fp32Format: WeightFormatModule<'fp32'> = {
  id: 'fp32',
  label: 'float32',
  summary: 'ternary values as float32, one Gemm per projection, scale after it (exact; plain opset 17)',
  fileSuffix: '',
  transformersJsDtype: 'fp32',
  graphStyle: 'portable',
  blockwise: false,
  accumulate({ g, options, weight }, input, group, name) {
    if (group.length !== 1) throw new Error('fp32 computes one projection per product');
    const p = group[0];
    const w = weight(`${name}.weight`, 'float32', p.shape, {
      kind: 'format',
      format: 'fp32',
      part: 'weight',
      group,
      options,
    });
    return g.op('Gemm', [input.xq, w], { transB: { i: 1 } });
  },
  async fill(_part, group, _options, reader, emit) {
    const p = group[0];
    const packed = await reader.packed(p);
    if (!packed) return reader.forEachTernaryF32(p, (values) => emit(asBytes(values)));
    for (let block = 0; block < 4; block++) {
      throwIfAborted(reader.signal);
      await emit(asBytes(reader.kernels.unpackTernaryF32(packed, block)));
    }
  },
  metadata: () => ({}),
};
