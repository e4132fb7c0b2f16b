/** The numbers that fix a BitNet b1.58 decoder's shape and arithmetic (docs/spec.md §2–3). */
export interface BitNetDims {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  ropeTheta: number;
  rmsNormEps: number;
  tiedEmbeddings: boolean;
}

/**
 * How a projection's integer accumulator becomes its output (docs/spec.md §1):
 * - 'multiply' (autobitlinear/offline): y = acc · scale / s
 * - 'divide'   (legacy bitlinear packed, and bf16 master weights quantised online with scale = c):
 *              y = acc / (s · scale)
 */
export type ScaleRule = 'multiply' | 'divide';

export type QuantVariant = 'packed-autobitlinear' | 'packed-bitlinear' | 'online-bf16';

export const PROJECTIONS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type ProjectionName = (typeof PROJECTIONS)[number];

export function projectionTensorName(layer: number, proj: ProjectionName): string {
  const block =
    proj.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(proj) ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${proj}`;
}

/** [out_features, in_features] of each projection. */
export function projectionShape(dims: BitNetDims, proj: ProjectionName): [number, number] {
  const q = dims.numHeads * dims.headDim;
  const kv = dims.numKvHeads * dims.headDim;
  switch (proj) {
    case 'q_proj':
      return [q, dims.hiddenSize];
    case 'k_proj':
    case 'v_proj':
      return [kv, dims.hiddenSize];
    case 'o_proj':
      return [dims.hiddenSize, q];
    case 'gate_proj':
    case 'up_proj':
      return [dims.intermediateSize, dims.hiddenSize];
    case 'down_proj':
      return [dims.hiddenSize, dims.intermediateSize];
  }
}
