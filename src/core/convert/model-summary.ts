/**
 * What the engine learned from the headers, as both front ends show it before converting: the original
 * tool's architecture table, tensor counts, the size of each format's model and how it will be checked.
 * The files a given request writes come from planOutput (src/core/convert/output-plan.ts).
 */
import { usedTensorNames } from '../bitnet/model-plan.ts';
import type { QuantVariant } from '../bitnet/dims.ts';
import { runtimeCheckScope, type CheckScope } from '../check/check-scope.ts';
import {
  defaultFormat,
  FORMAT_IDS,
  formatModule,
  modelFileName,
  type WeightFormat,
} from '../formats/registry.ts';
import { CANDIDATE_HEAD_MODES, type CandidateHeadMode, type HeadMode } from '../formats/head.ts';
import type { InspectedModel } from './convert.ts';
import type { ExternalData } from './output-plan.ts';
import { planDecoderFiles } from './write-decoder.ts';

export interface SizedFile {
  name: string;
  bytes: number;
}

/** What was loaded, for the summary table; every number is known before any conversion work. */
export interface ModelSummary {
  /** Input names relative to the model folder. */
  inputFiles: string[];
  /** The .safetensors files holding tensors (one, or the shards). */
  checkpointFiles: string[];
  index?: string;
  variant: QuantVariant;
  vocabSize: number;
  maxPositions: number;
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tiedEmbeddings: boolean;
  /** Tensors in the checkpoint, and how many of them the model uses. */
  tensorCount: number;
  usedTensorCount: number;
  /** Bytes of tensor data in the checkpoint files. */
  inputBytes: number;
  /** Each format's model files (exact head), with the exact size the writer will produce. */
  outputs: Record<WeightFormat, SizedFile[]>;
  /** The same for the compact formats with each re-scored head (q8, q4). */
  outputsWithHead: Record<CandidateHeadMode, Partial<Record<WeightFormat, SizedFile[]>>>;
  /** Things the user should know (defaults assumed, tensors ignored). */
  notes: string[];
  /** How the runtime check will go: on the model itself, or on a probe built from its first layers. */
  runtimeCheck: CheckScope;
}

export function summariseModel(
  inspected: InspectedModel,
  inputFiles: string[],
  external: ExternalData = 'auto',
): ModelSummary {
  const { checkpoint, plan } = inspected;
  const d = plan.dims;
  const planned = (weights: WeightFormat, head: HeadMode) =>
    planDecoderFiles({
      plan,
      format: defaultFormat(weights, head),
      modelFile: modelFileName(weights),
      external,
    });
  const outputs = Object.fromEntries(
    FORMAT_IDS.map((f) => [f, planned(f, 'exact')]),
  ) as ModelSummary['outputs'];
  const compact = FORMAT_IDS.filter((f) => formatModule(f).graphStyle === 'onnxruntime');
  const withHead = (head: CandidateHeadMode) => Object.fromEntries(compact.map((f) => [f, planned(f, head)]));
  const outputsWithHead = Object.fromEntries(
    CANDIDATE_HEAD_MODES.map((head) => [head, withHead(head)]),
  ) as ModelSummary['outputsWithHead'];
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
    outputsWithHead,
    notes: [...plan.notes],
    runtimeCheck: runtimeCheckScope(plan),
  };
}
