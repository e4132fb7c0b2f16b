/**
 * Turns what the engine learned from the headers into the summary the page shows before converting:
 * the original tool's architecture table, tensor counts and the size of every planned output.
 */
import { buildDecoderGraph } from '../core/bitnet/decoder-graph.ts';
import { defaultFormat, type WeightFormat } from '../core/bitnet/format.ts';
import { usedTensorNames, type ModelPlan } from '../core/bitnet/model-plan.ts';
import { PROBE_LAYERS, PROBE_VOCAB, referenceParams } from '../core/check/probe.ts';
import { REFERENCE_PARAM_LIMIT } from '../core/check/verify.ts';
import type { InspectedModel } from '../core/convert/convert.ts';
import { planLayout } from '../core/onnx/layout.ts';
import type { ModelSummary, OutputFile } from './api.ts';
import { copiedFileNames } from './copy-through.ts';
import { modelFileFor } from './model-file.ts';

/** Protobuf framing, graph nodes and inline constants: small next to the weights, never zero. */
const GRAPH_OVERHEAD_ESTIMATE = 64 * 1024;

const FORMATS: WeightFormat[] = ['fp32', 'int8', 'int2'];

export function summarise(
  inspected: InspectedModel,
  inputFiles: string[],
  external: 'auto' | 'always' | 'never' = 'auto',
): ModelSummary {
  const { checkpoint, plan } = inspected;
  const d = plan.dims;
  const outputs = Object.fromEntries(
    FORMATS.map((f) => [f, plannedOutputs(plan, f, external)]),
  ) as ModelSummary['outputs'];
  return {
    inputFiles,
    checkpointFiles: checkpoint.files,
    index: checkpoint.index,
    variant: plan.variant,
    vocabSize: d.vocabSize,
    maxPositions: d.maxPositions,
    hiddenSize: d.hiddenSize,
    numLayers: d.numLayers,
    intermediateSize: d.intermediateSize,
    numHeads: d.numHeads,
    numKvHeads: d.numKvHeads,
    headDim: d.headDim,
    tiedEmbeddings: d.tiedEmbeddings,
    tensorCount: checkpoint.tensors.size,
    usedTensorCount: usedTensorNames(plan).size,
    inputBytes: checkpoint.totalBytes,
    outputs,
    copied: copiedFileNames(inputFiles),
    notes: [...plan.notes],
    runtimeCheck: runtimeCheckMode(plan),
  };
}

/** The .onnx (weights kept inline plus the graph) and each external data file, as the layout plans them. */
export function plannedOutputs(
  plan: ModelPlan,
  weights: WeightFormat,
  external: 'auto' | 'always' | 'never',
): OutputFile[] {
  const modelFile = modelFileFor(weights);
  const { graph } = buildDecoderGraph(plan, defaultFormat(weights));
  const layout = planLayout(graph.weights, { modelFile, external });
  const inlineBytes = layout.placements.reduce((n, p) => n + (p.external ? 0 : p.byteLength), 0);
  return [
    { name: modelFile, bytes: inlineBytes + GRAPH_OVERHEAD_ESTIMATE },
    ...layout.dataFiles.map((f) => ({ name: f.name, bytes: f.bytes })),
  ];
}

/** Mirrors the engine's own choice (core/check/verify.ts), so the page can say up front what will happen. */
function runtimeCheckMode(plan: ModelPlan): ModelSummary['runtimeCheck'] {
  const params = referenceParams(plan);
  if (params <= REFERENCE_PARAM_LIMIT) return { mode: 'full' };
  return {
    mode: 'probe',
    reason:
      `${(params / 1e9).toFixed(2)}B parameters are more than one tab can run next to the reference ` +
      `(onnxruntime-web's heap is 4 GiB), so a probe is checked instead: the first ${PROBE_LAYERS} layers ` +
      `at full width and the first ${PROBE_VOCAB} vocabulary rows, read from the same weights`,
  };
}
