import { FORMAT_SUFFIX, type WeightFormat } from '../core/bitnet/format.ts';

/** `model.onnx`, `model_int8.onnx`, `model_q2.onnx`: the names transformers.js gives each format. */
export function modelFileFor(weights: WeightFormat): string {
  return `model${FORMAT_SUFFIX[weights]}.onnx`;
}
