/**
 * Streams a GraphBuilder to an OutputTarget as an ONNX model (IR 8), never holding a weight whole.
 *
 * Every length is known before the first byte is written (the layout fixes where each weight goes and
 * the builder fixes everything else), so the .onnx can be written front to back: model fields, then the
 * graph's tag and total length, the graph's small fields (nodes, constants, external tensor stubs,
 * inputs, outputs), and last each inline weight as its TensorProto header followed by raw_data as the
 * fill callback produces it. Protobuf parsers accept fields in any order, so putting the graph and the
 * initializers last is valid. In external mode the data files are written first (zero padding to the
 * planned offsets), then the small .onnx.
 *
 * The writer neither commits nor discards the target: the caller owns the target and may add other
 * files; on error it should call `target.discard()`. Sinks this writer opened are closed on the way out.
 */
import { ConversionError, throwIfAborted } from '../errors.ts';
import type { OutputTarget } from '../io/bytes.ts';
import type { GraphBuilder, WeightSpec } from './graph.ts';
import { PROTOBUF_LIMIT, type Layout } from './layout.ts';
import { externalWeightObject, graphSkeletonObject, weightHeaderObject } from './model-proto.ts';
import { FIELD, GraphProto, ModelProto, TensorProto } from './schema.ts';
import { SinkStream } from './sink-stream.ts';
import { concatBytes, lenFieldPrefix } from './wire.ts';

export const IR_VERSION = 8;

export type EmitBytes = (bytes: Uint8Array) => Promise<void>;

export interface WriteModelOptions {
  graph: GraphBuilder;
  layout: Layout;
  target: OutputTarget;
  /**
   * Produces one weight's bytes by calling `emit` (awaiting each call; the bytes may be reused once it
   * settles) until exactly `w.byteLength` bytes were given. Called once per weight, in declaration order.
   */
  fill: (w: WeightSpec, emit: EmitBytes) => Promise<void>;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with the number of bytes each time more of the output reached a sink. */
  onBytes?: (n: number) => void;
}

export interface WrittenFile {
  name: string;
  bytes: number;
}

/** What fixes the bytes of the output: everything of WriteModelOptions but the data and the plumbing. */
export type ModelFileOptions = Pick<
  WriteModelOptions,
  'graph' | 'layout' | 'producerName' | 'producerVersion' | 'docString' | 'metadata'
>;

/**
 * The files `writeModel` would write for these options, with their exact sizes, in the order it writes
 * them (external data files first, the .onnx last), without producing any weight. Throws what
 * `writeModel` would throw before writing: an incomplete graph, a layout that does not match it, or a
 * .onnx over the protobuf limit (ConversionError).
 */
export function planModelFiles(opts: ModelFileOptions): WrittenFile[] {
  opts.graph.checkComplete();
  checkLayout(opts.graph.weights, opts.layout);
  return [
    ...opts.layout.dataFiles.map((f) => ({ name: f.name, bytes: f.bytes })),
    { name: opts.layout.modelFile, bytes: planModelFile(opts).bytes },
  ];
}

export async function writeModel(opts: WriteModelOptions): Promise<{ files: WrittenFile[] }> {
  opts.graph.checkComplete();
  checkLayout(opts.graph.weights, opts.layout);
  const plan = planModelFile(opts);
  const outputs = new Outputs(opts.target, opts.onBytes);
  try {
    let inlineBytes: (i: number, out: SinkStream) => Promise<void>;
    if (opts.layout.dataFiles.length === 0) {
      inlineBytes = (i, out) => fillWeight(opts, i, (b) => out.write(b));
    } else {
      const held = await writeDataFiles(opts, outputs);
      inlineBytes = (i, out) => out.write(held.get(i)!);
    }
    const model = await outputs.open(opts.layout.modelFile);
    await writeModelFile(model, plan, inlineBytes);
    await outputs.close(model, plan.bytes);
    return { files: outputs.written };
  } catch (e) {
    await outputs.closeAll();
    throw e;
  }
}

/** The sinks this writer opened, so an error can close every one of them. */
class Outputs {
  readonly written: WrittenFile[] = [];
  private readonly unclosed = new Set<SinkStream>();

  constructor(
    private readonly target: OutputTarget,
    private readonly onBytes?: (n: number) => void,
  ) {}

  async open(name: string): Promise<SinkStream> {
    const s = new SinkStream(name, await this.target.create(name), this.onBytes);
    this.unclosed.add(s);
    return s;
  }

  /** Closes `s` and checks it got exactly the planned number of bytes. */
  async close(s: SinkStream, planned: number): Promise<void> {
    this.unclosed.delete(s);
    await s.close();
    if (s.position !== planned) throw new Error(`${s.name}: wrote ${s.position} bytes, planned ${planned}`);
    this.written.push({ name: s.name, bytes: s.position });
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.unclosed].map((s) => s.close()));
    this.unclosed.clear();
  }
}

/**
 * The layout must describe exactly these weights, in order; external ones in ascending files and
 * offsets without overlap, each data file ending where its last tensor ends.
 */
function checkLayout(weights: readonly WeightSpec[], layout: Layout): void {
  const fail = (why: string): never => {
    throw new Error(`layout does not match the graph's weights: ${why}`);
  };
  if (layout.placements.length !== weights.length) fail(`${layout.placements.length} placements`);
  const ends = layout.dataFiles.map(() => -1);
  let file = 0;
  weights.forEach((w, i) => {
    const p = layout.placements[i];
    if (p.name !== w.name || p.byteLength !== w.byteLength) fail(`placement ${i} is ${p.name}`);
    if (!p.external) return;
    if (p.external.file < file || p.external.file >= ends.length) {
      fail(`${w.name} is in file ${p.external.file}`);
    }
    file = p.external.file;
    if (p.external.offset < Math.max(ends[file], 0)) fail(`${w.name} overlaps its predecessor`);
    ends[file] = p.external.offset + w.byteLength;
  });
  layout.dataFiles.forEach((f, i) => {
    if (ends[i] !== f.bytes) {
      fail(`${f.name} is planned at ${f.bytes} bytes but its tensors end at ${ends[i]}`);
    }
  });
}

interface InlineRecord {
  weight: number;
  /** Initializer tag and length, the TensorProto's other fields, raw_data's tag and length. */
  header: Uint8Array;
}

interface ModelFilePlan {
  /** Model fields, graph tag and length, the graph's small fields. */
  prefix: Uint8Array;
  records: InlineRecord[];
  bytes: number;
}

function planModelFile(opts: ModelFileOptions): ModelFilePlan {
  const { graph, layout } = opts;
  const externals: object[] = [];
  const records: InlineRecord[] = [];
  graph.weights.forEach((w, i) => {
    const ext = layout.placements[i].external;
    if (ext) externals.push(externalWeightObject(w, layout.dataFiles[ext.file].location, ext.offset));
    else records.push({ weight: i, header: inlineRecordHeader(w) });
  });
  const skeleton = GraphProto.encode(graphSkeletonObject(graph, externals)).finish();
  const inlineBytes = records.reduce((n, r) => n + r.header.length + graph.weights[r.weight].byteLength, 0);
  const graphBytes = skeleton.length + inlineBytes;
  const head = ModelProto.encode(modelFieldsObject(opts)).finish();
  const prefix = concatBytes([head, lenFieldPrefix(FIELD.modelGraph, graphBytes), skeleton]);
  const bytes = prefix.length + inlineBytes;
  if (bytes > PROTOBUF_LIMIT) {
    throw new ConversionError('the model is too large for one protobuf file; use external data', {
      file: layout.modelFile,
      expected: `at most ${PROTOBUF_LIMIT} bytes`,
      found: `${bytes} bytes`,
    });
  }
  return { prefix, records, bytes };
}

function inlineRecordHeader(w: WeightSpec): Uint8Array {
  const fields = TensorProto.encode(weightHeaderObject(w)).finish();
  // A 0-element tensor gets no raw_data field at all (the checker rejects empty tensors "with data").
  const raw = w.byteLength > 0 ? lenFieldPrefix(FIELD.tensorRawData, w.byteLength) : new Uint8Array(0);
  const tensorBytes = fields.length + raw.length + w.byteLength;
  return concatBytes([lenFieldPrefix(FIELD.graphInitializer, tensorBytes), fields, raw]);
}

function modelFieldsObject(opts: ModelFileOptions): object {
  return {
    ir_version: IR_VERSION,
    producer_name: opts.producerName,
    producer_version: opts.producerVersion,
    ...(opts.docString ? { doc_string: opts.docString } : {}),
    opset_import: opts.graph.opsetImports(),
    metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

async function writeModelFile(
  out: SinkStream,
  plan: ModelFilePlan,
  inlineBytes: (weight: number, out: SinkStream) => Promise<void>,
): Promise<void> {
  await out.write(plan.prefix);
  for (const r of plan.records) {
    await out.write(r.header);
    await inlineBytes(r.weight, out);
  }
}

/**
 * Fills every weight in order: external ones stream into their data file, small inline ones (below the
 * layout's inline threshold, so at most 64 KiB each) are held until the .onnx is written.
 */
async function writeDataFiles(opts: WriteModelOptions, outputs: Outputs): Promise<Map<number, Uint8Array>> {
  const { layout } = opts;
  const held = new Map<number, Uint8Array>();
  let out: SinkStream | undefined;
  let current = -1;
  for (let i = 0; i < opts.graph.weights.length; i++) {
    const ext = layout.placements[i].external;
    if (!ext) {
      held.set(i, await fillHeld(opts, i));
      continue;
    }
    if (ext.file !== current) {
      if (out) await outputs.close(out, layout.dataFiles[current].bytes);
      current = ext.file;
      out = await outputs.open(layout.dataFiles[current].name);
    }
    const sink = out!;
    await sink.writeZeros(ext.offset - sink.position);
    await fillWeight(opts, i, (b) => sink.write(b));
  }
  if (out) await outputs.close(out, layout.dataFiles[current].bytes);
  return held;
}

async function fillHeld(opts: WriteModelOptions, i: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(opts.graph.weights[i].byteLength);
  let at = 0;
  await fillWeight(opts, i, async (b) => {
    bytes.set(b, at);
    at += b.length;
  });
  return bytes;
}

/** Runs `fill` for weight i, holding it to exactly byteLength bytes and one emit at a time. */
async function fillWeight(opts: WriteModelOptions, i: number, write: EmitBytes): Promise<void> {
  const w = opts.graph.weights[i];
  throwIfAborted(opts.signal);
  let count = 0;
  let busy = false;
  let finished = false;
  const emit: EmitBytes = async (bytes) => {
    if (finished) throw new Error(`weight ${w.name}: emit called after its fill finished`);
    if (busy) throw new Error(`weight ${w.name}: emit called before the previous emit settled`);
    throwIfAborted(opts.signal);
    if (count + bytes.length > w.byteLength) throw sizeError(w, 'more', count + bytes.length);
    count += bytes.length;
    busy = true;
    try {
      await write(bytes);
    } finally {
      busy = false;
    }
  };
  try {
    await opts.fill(w, emit);
  } finally {
    finished = true;
  }
  if (count !== w.byteLength) throw sizeError(w, 'fewer', count);
}

function sizeError(w: WeightSpec, what: 'more' | 'fewer', found: number): ConversionError {
  return new ConversionError(`produced ${what} bytes than its shape holds`, {
    tensor: w.name,
    expected: `${w.byteLength} bytes (${w.type}[${w.dims.join(', ')}])`,
    found: what === 'more' ? `at least ${found} bytes` : `${found} bytes`,
  });
}
