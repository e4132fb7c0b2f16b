/**
 * Turns what the engine learned from the headers into the summary the page shows before converting:
 * the original tool's architecture table, tensor counts and the size of every planned output.
 */
import {
  defaultFormat,
  FORMAT_IDS,
  formatModule,
  modelFileName,
  type FormatOptions,
} from '../core/formats/registry.ts';
import { usedTensorNames, type ModelPlan } from '../core/bitnet/model-plan.ts';
import { PROBE_LAYERS, PROBE_VOCAB, referenceParams } from '../core/check/probe.ts';
import { REFERENCE_PARAM_LIMIT } from '../core/check/verify.ts';
import type { InspectedModel } from '../core/convert/convert.ts';
import { planDecoderFiles } from '../core/convert/write-decoder.ts';
import type { ModelSummary, OutputFile } from './api.ts';
import { copiedFileNames } from './copy-through.ts';

export function summarise(
  inspected: InspectedModel,
  inputFiles: string[],
  external: 'auto' | 'always' | 'never' = 'auto',
): ModelSummary {
  const { checkpoint, plan } = inspected;
  const d = plan.dims;
  const outputs = Object.fromEntries(
    FORMAT_IDS.map((f) => [f, plannedOutputs(plan, defaultFormat(f), external)]),
  ) as ModelSummary['outputs'];
  const outputsQ8Head = Object.fromEntries(
    FORMAT_IDS.filter((f) => formatModule(f).graphStyle === 'onnxruntime').map((f) => [
      f,
      plannedOutputs(plan, defaultFormat(f, 'q8'), external),
    ]),
  );
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
    outputsQ8Head,
    copied: copiedFileNames(inputFiles),
    notes: [...plan.notes],
    runtimeCheck: runtimeCheckMode(plan),
  };
}

/** Every file the writer will produce for this format, with its exact size, planned without writing. */
export function plannedOutputs(
  plan: ModelPlan,
  format: FormatOptions,
  external: 'auto' | 'always' | 'never',
): OutputFile[] {
  return planDecoderFiles({ plan, format, modelFile: modelFileName(format.weights), external });
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
