import { parseConfigJson, type ParsedConfig } from '../bitnet/config.ts';
import { defaultFormat, type FormatOptions } from '../formats/registry.ts';
import { planModel, type ModelPlan } from '../bitnet/model-plan.ts';
import { CheckFailedError, throwIfAborted } from '../errors.ts';
import { readText, type InputFiles, type OutputTarget } from '../io/bytes.ts';
import type { Kernels } from '../kernels/kernels.ts';
import { validateModel } from '../onnx/validate.ts';
import { openCheckpoint, type Checkpoint } from '../safetensors/checkpoint.ts';
import type { ProgressListener } from './progress.ts';
import { writeDecoder } from './write-decoder.ts';

export { PRODUCER } from './write-decoder.ts';

export interface InspectedModel {
  checkpoint: Checkpoint;
  config?: ParsedConfig;
  plan: ModelPlan;
}

/** Reads headers and config only: enough to show what was loaded and catch problems before any work. */
export async function inspectModel(input: InputFiles, configText?: string): Promise<InspectedModel> {
  const configSource = configText === undefined ? await input.open('config.json') : undefined;
  const text = configText ?? (configSource ? await readText(configSource) : undefined);
  const config = text === undefined ? undefined : parseConfigJson(text, configSource?.name ?? 'config.json');
  const checkpoint = await openCheckpoint(input);
  const plan = planModel(checkpoint, config, configSource?.name ?? 'config.json');
  return { checkpoint, config, plan };
}

/** A step run on the staged output before it is committed (e.g. the onnxruntime check). */
export type VerifyStep = (ctx: {
  target: OutputTarget;
  modelFile: string;
  inspected: InspectedModel;
}) => Promise<void>;

export interface ConvertRequest {
  input: InputFiles;
  target: OutputTarget;
  kernels: Kernels;
  modelFile?: string;
  format?: FormatOptions;
  /** config.json text overriding the one beside the input. */
  configText?: string;
  external?: 'auto' | 'always' | 'never';
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  verify?: VerifyStep;
  /**
   * What `inspectModel` found, when the caller already read the headers (a model folder converts several
   * formats from one inspection; the tab inspects before it checks for room). Default: inspect here.
   */
  inspected?: InspectedModel;
  /**
   * false: leave the checked output staged, for a caller that puts more files in the same target and
   * commits them together (a model folder). It still discards everything on failure. Default true.
   */
  commit?: boolean;
}

export interface ConvertResult {
  files: { name: string; bytes: number }[];
  seconds: number;
  inspected: InspectedModel;
}

/**
 * The whole job as one transaction: plan → stream weights through the kernels into the ONNX writer →
 * validate the written bytes → caller's checks → commit (unless `commit: false`). Any failure or cancel
 * discards the output.
 */
export async function convertModel(req: ConvertRequest): Promise<ConvertResult> {
  const started = Date.now();
  const emit = req.onProgress ?? (() => {});
  const modelFile = req.modelFile ?? 'model.onnx';
  try {
    const inspected = req.inspected ?? (await inspectModel(req.input, req.configText));
    const { plan } = inspected;
    emit({ status: 'log', level: 'info', message: describePlan(plan) });
    for (const note of plan.notes) emit({ status: 'log', level: 'warn', message: note });

    const format = req.format ?? defaultFormat('fp32');
    let bytesDone = 0;
    let bytesTotal = 0;
    let tensor = { name: '', index: 0, count: 0, done: 0, total: 0 };
    const progress = () =>
      emit({
        status: 'tensor',
        name: tensor.name,
        index: tensor.index,
        count: tensor.count,
        bytesDone,
        bytesTotal,
        tensorDone: tensor.done,
        tensorTotal: tensor.total,
      });
    const { files, filler } = await writeDecoder({
      plan,
      format,
      target: req.target,
      modelFile,
      kernels: req.kernels,
      external: req.external,
      signal: req.signal,
      onPlanned: (weights, dataFiles) => {
        bytesTotal = weights.reduce((n, w) => n + w.byteLength, 0);
        emit({ status: 'plan', tensors: weights.length, bytesTotal, files: [modelFile, ...dataFiles] });
      },
      onWeight: (spec, index, count) => {
        tensor = { name: spec.name, index, count, done: 0, total: spec.byteLength };
        emit({
          status: 'log',
          level: 'verbose',
          message: `${spec.name} [${spec.dims.join(', ')}] ${spec.type}`,
        });
        progress();
      },
      onBytes: (_spec, n) => {
        tensor.done += n;
        bytesDone += n;
        progress();
      },
    });
    throwIfAborted(req.signal);
    const seconds = (Date.now() - started) / 1000;
    emit({ status: 'written', files, seconds });
    if (filler.half.values > 0) {
      const h = filler.half;
      emit({
        status: 'log',
        level: h.inexact > 0 ? 'warn' : 'info',
        message:
          `embedding stored as float16: ${h.inexact} of ${h.values} values not exactly representable` +
          (h.inexact > 0 ? ` (max abs error ${h.maxAbsError.toExponential(2)})` : ' (all exact)'),
      });
    }

    const validation = await validateModel((name) => req.target.open(name), modelFile);
    emit({
      status: 'check',
      name: 'structure',
      file: modelFile,
      ok: validation.ok,
      message: validation.ok ? 'valid ONNX (IR 8, opset 17)' : validation.problems.join('; '),
    });
    if (!validation.ok) {
      throw new CheckFailedError('the written model failed structural validation', {
        file: modelFile,
        found: validation.problems.slice(0, 5).join('; '),
      });
    }
    await req.verify?.({ target: req.target, modelFile, inspected });
    throwIfAborted(req.signal);
    if (req.commit !== false) await req.target.commit();
    return { files, seconds, inspected };
  } catch (error) {
    // The first failure is the one to report; a discard that fails too (the same full disk, a lost
    // permission) must not replace it.
    await req.target.discard().catch(() => {});
    throw error;
  }
}

export function describePlan(plan: ModelPlan): string {
  const d = plan.dims;
  return (
    `${plan.variant}: vocab ${d.vocabSize}, context ${d.maxPositions}, hidden ${d.hiddenSize}, ` +
    `${d.numLayers} layers, FFN ${d.intermediateSize}, heads ${d.numHeads}/${d.numKvHeads} kv, head_dim ${d.headDim}, ` +
    `${d.tiedEmbeddings ? 'tied' : 'untied'} head`
  );
}
