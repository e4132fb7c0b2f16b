/**
 * How the converted model stores and multiplies its ternary weights (docs/spec.md §4–5).
 * - fp32: ternary values as float32, one Gemm per projection (the original tool's output, made exact).
 * - int8: ternary int8 weights and MatMulInteger on the quantised activations: standard ONNX, exact.
 * - int2: com.microsoft MatMulNBits, 2 bits per weight; `exact` picks accuracy_level 0 (float arithmetic,
 *   exact but slow), otherwise accuracy_level 4 (int8 kernels that re-quantise activations per block).
 */
export type WeightFormat = 'fp32' | 'int8' | 'int2';

/** Storage of the non-ternary embedding (and untied head): fp16 is exact for bf16 values in its range. */
export type EmbedStorage = 'fp32' | 'fp16';

export interface FormatOptions {
  weights: WeightFormat;
  embed: EmbedStorage;
  /** MatMulNBits block size along K (int2 only). */
  blockSize: number;
  /** int2 only: accuracy_level 0 instead of 4. */
  exact: boolean;
}

export const FORMAT_SUFFIX: Record<WeightFormat, string> = { fp32: '', int8: '_int8', int2: '_q2' };

export function defaultFormat(weights: WeightFormat): FormatOptions {
  return { weights, embed: weights === 'fp32' ? 'fp32' : 'fp16', blockSize: 128, exact: false };
}
