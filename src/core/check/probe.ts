import type { ModelPlan } from '../bitnet/model-plan.ts';
import type { TensorInfo } from '../safetensors/checkpoint.ts';

/** Size of the probe model: enough width and depth to exercise every op on real weights. */
export const PROBE_LAYERS = 2;
export const PROBE_VOCAB = 4096;

/**
 * A plan for a probe model built from the same checkpoint: the first layers at full width, and the
 * embedding and head cut to their first rows. It runs where the whole model cannot (the reference would
 * need it all in memory; onnxruntime-web's heap is 4 GiB) and still checks the converted arithmetic on
 * real weights. Rows are a prefix of the tensor, so the cut is just a shorter window into the file.
 */
export function probePlan(plan: ModelPlan, layers = PROBE_LAYERS, vocab = PROBE_VOCAB): ModelPlan {
  const v = Math.min(vocab, plan.dims.vocabSize);
  const cut = (t: TensorInfo): TensorInfo => {
    const rowBytes = t.byteLength / t.shape[0];
    return { ...t, shape: [v, ...t.shape.slice(1)], byteLength: rowBytes * v };
  };
  return {
    ...plan,
    dims: { ...plan.dims, numLayers: Math.min(layers, plan.dims.numLayers), vocabSize: v },
    embed: cut(plan.embed),
    lmHead: plan.lmHead ? cut(plan.lmHead) : undefined,
    layers: plan.layers.slice(0, layers),
    notes: [],
  };
}

/** Parameters the reference would hold as float32 for a plan. */
export function referenceParams(plan: ModelPlan): number {
  const d = plan.dims;
  const perLayer =
    2 * d.hiddenSize * (d.numHeads + d.numKvHeads) * d.headDim + 3 * d.hiddenSize * d.intermediateSize;
  return d.vocabSize * d.hiddenSize * (plan.lmHead ? 2 : 1) + d.numLayers * perLayer;
}
