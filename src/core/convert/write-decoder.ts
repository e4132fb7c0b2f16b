import { buildDecoderGraph } from '../bitnet/decoder-graph.ts';
import { formatMetadata, type FormatOptions } from '../formats/registry.ts';
import type { ModelPlan } from '../bitnet/model-plan.ts';
import type { OutputTarget } from '../io/bytes.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { WeightSpec } from '../onnx/graph.ts';
import { planLayout } from '../onnx/layout.ts';
import { planModelFiles, writeModel, type ModelFileOptions, type WrittenFile } from '../onnx/writer.ts';
import { WeightFiller } from './weight-fill.ts';

/**
 * 'auto' moves weights to external data above 1 GiB, well before protobuf's 2 GiB limit: onnxruntime-web
 * holds an inline model's bytes in its 4 GiB heap next to the loaded weights, and the 2B-4T int2 model
 * (1.24 GB) fails to load there inline while it loads and runs with external data (bench/browser-2b4t.ts).
 */
export const AUTO_EXTERNAL_ABOVE = 2 ** 30;

export const PRODUCER = { name: 'bitnet2onnx', version: '0.1.0' };

export interface WriteDecoderOptions {
  plan: ModelPlan;
  format: FormatOptions;
  target: OutputTarget;
  modelFile: string;
  kernels: Kernels;
  external?: 'auto' | 'always' | 'never';
  signal?: AbortSignal;
  /** Called once the layout is fixed, before any byte is written. */
  onPlanned?: (weights: WeightSpec[], dataFiles: string[]) => void;
  /** Called before each initializer with its spec, then with every chunk's byte count. */
  onWeight?: (spec: WeightSpec, index: number, count: number) => void;
  onBytes?: (spec: WeightSpec, bytes: number) => void;
}

export interface WrittenDecoder {
  files: { name: string; bytes: number }[];
  filler: WeightFiller;
  weights: WeightSpec[];
}

export type PlanDecoderOptions = Pick<WriteDecoderOptions, 'plan' | 'format' | 'modelFile' | 'external'>;

/**
 * The files `writeDecoder` would write for these options and their exact sizes (external data files
 * first, the .onnx last), from the plan alone: no weight is read or produced.
 */
export function planDecoderFiles(o: PlanDecoderOptions): WrittenFile[] {
  return planModelFiles(decoderModel(o).model);
}

/** The graph, its layout and the model header, shared by planning and writing so their bytes agree. */
function decoderModel(o: PlanDecoderOptions) {
  const { graph, roles } = buildDecoderGraph(o.plan, o.format);
  const external = o.external ?? 'auto';
  const layout = planLayout(graph.weights, {
    modelFile: o.modelFile,
    external,
    ...(external === 'auto' ? { inlineLimit: AUTO_EXTERNAL_ABOVE } : {}),
  });
  const model: ModelFileOptions = {
    graph,
    layout,
    producerName: PRODUCER.name,
    producerVersion: PRODUCER.version,
    docString: `BitNet b1.58 decoder (${o.plan.variant}) converted by ${PRODUCER.name}`,
    metadata: modelMetadata(o.plan, o.format),
  };
  return { model, roles };
}

/** Builds the decoder graph for a plan and streams it, weights included, into the target (not committed). */
export async function writeDecoder(o: WriteDecoderOptions): Promise<WrittenDecoder> {
  const { model, roles } = decoderModel(o);
  const { graph, layout } = model;
  o.onPlanned?.(
    graph.weights,
    layout.dataFiles.map((f) => f.name),
  );
  const filler = new WeightFiller(roles, o.kernels, o.signal);
  let index = 0;
  const { files } = await writeModel({
    ...model,
    target: o.target,
    signal: o.signal,
    fill: async (spec, write) => {
      o.onWeight?.(spec, index, graph.weights.length);
      await filler.fill(spec, async (bytes) => {
        await write(bytes);
        o.onBytes?.(spec, bytes.byteLength);
      });
      index++;
    },
  });
  return { files, filler, weights: graph.weights };
}

/** The model's metadata_props: the checkpoint variant and the format's own description. */
export function modelMetadata(plan: ModelPlan, f: FormatOptions): Record<string, string> {
  const entries = Object.entries(formatMetadata(f)).map(([k, v]) => [`bitnet.${k}`, String(v)]);
  return { 'bitnet.variant': plan.variant, ...Object.fromEntries(entries) };
}
