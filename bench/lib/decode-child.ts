/**
 * One of our formats' decode measurement, in its own process (so its peak RSS is attributable and sessions
 * never pile up). Run by bench/decode-2b4t.ts as `node --import tsx bench/lib/decode-child.ts '<json>'`.
 * The definitions are shared with the peer's bench/lib/llama-child.ts:
 *
 * Session: onnxruntime-node, CPU EP, intraOpNumThreads from the arguments, graphOptimizationLevel 'all';
 * load = InferenceSession.create.
 * 1. prefill: a `prefillLength`-token prompt (bench/lib/common.ts benchPrompt) with an empty cache; one
 *    untimed run (its present.* is the cache for step 2), then `prefillRuns` timed runs;
 *    prefill tok/s = prompt tokens ÷ the median run (the time to the first token's logits).
 * 2. decode: one token (the prefill's greedy next token) at position `prefillLength` against that real
 *    cache (past_sequence_length = prefillLength), the same feeds every step; warm-up steps, then at least
 *    `minDecodeSteps` timed steps and at least `minDecodeSeconds`; decode = the median step.
 * 3. with `generate`: greedy decoding with the KV cache from a short prompt, each step's logits and own
 *    argmax written out; with `forcedIdsFile` the fed tokens are those ids (teacher forcing), so two models'
 *    logits compare position by position and "greedy identical" means every own argmax equals the forced id.
 * With `profileDir`, the session profiles instead and only the decode steps are reported, per op type.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { IO_NAMES } from '../../src/core/bitnet/decoder-graph.ts';
import { benchPrompt, medianOf } from './common.ts';

export interface GenerateArgs {
  promptLength: number;
  steps: number;
  /** int32 ids to feed instead of the model's own choices (another model's greedy output). */
  forcedIdsFile?: string;
  /** The model's own argmax at each step, int32 [steps]. */
  idsFile: string;
  /** Each step's logits, float32 [steps, vocab]. */
  logitsFile: string;
}

export interface DecodeChildArgs {
  model: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  threads: number;
  prefillLength: number;
  prefillRuns: number;
  warmupSteps: number;
  minDecodeSteps: number;
  minDecodeSeconds: number;
  maxDecodeSteps: number;
  resultFile: string;
  generate?: GenerateArgs;
  profileDir?: string;
}

export interface OpTime {
  op: string;
  ms: number;
  count: number;
}

export interface ProfileSummary {
  steps: number;
  /** Mean wall time of one profiled run (model_run event), ms. */
  runMs: number;
  /** Mean summed kernel time per run, ms. */
  kernelMs: number;
  /** The output projection onto the vocabulary (node with a [*, vocab] float output), ms per run. */
  head: { node: string; op: string; ms: number } | undefined;
  byOp: OpTime[];
  topNodes: { node: string; op: string; ms: number }[];
}

export interface DecodeChildResult {
  sessionSeconds: number;
  rssAfterSessionMiB: number;
  prefill?: { tokens: number; runsSeconds: number[]; tokensPerSecond: number; warmupSeconds: number };
  decode?: {
    pastLength: number;
    warmupMs: number[];
    stepsMs: number[];
    meanMs: number;
    medianMs: number;
  };
  generate?: { steps: number; forced: boolean };
  profile?: ProfileSummary;
  rssEndMiB: number;
}

const MiB = 1 << 20;

function int64(dims: number[], values: number[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}

export interface CacheShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

/** Feeds for a whole prompt with an empty cache (past_sequence_length 0). */
export function decoderPromptFeeds(ids: number[], c: CacheShape): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [IO_NAMES.inputIds]: int64([1, ids.length], ids),
    [IO_NAMES.attentionMask]: int64([1, ids.length], new Array<number>(ids.length).fill(1)),
    [IO_NAMES.positionIds]: int64(
      [1, ids.length],
      ids.map((_, i) => i),
    ),
  };
  const empty = new Float32Array(0);
  for (let i = 0; i < c.layers; i++) {
    feeds[IO_NAMES.pastKey(i)] = new ort.Tensor('float32', empty, [1, c.kvHeads, 0, c.headDim]);
    feeds[IO_NAMES.pastValue(i)] = new ort.Tensor('float32', empty, [1, c.kvHeads, 0, c.headDim]);
  }
  return feeds;
}

/** Feeds for one token at position `past` against the cache a previous run returned. */
export function decoderStepFeeds(
  previous: ort.InferenceSession.OnnxValueMapType,
  token: number,
  past: number,
  layers: number,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [IO_NAMES.inputIds]: int64([1, 1], [token]),
    [IO_NAMES.attentionMask]: int64([1, past + 1], new Array<number>(past + 1).fill(1)),
    [IO_NAMES.positionIds]: int64([1, 1], [past]),
  };
  for (let i = 0; i < layers; i++) {
    feeds[IO_NAMES.pastKey(i)] = previous[IO_NAMES.presentKey(i)] as ort.Tensor;
    feeds[IO_NAMES.pastValue(i)] = previous[IO_NAMES.presentValue(i)] as ort.Tensor;
  }
  return feeds;
}

/** The session options every measurement uses. */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
}

/** The last position's logits of a run. */
export function lastLogits(out: ort.InferenceSession.OnnxValueMapType, vocab: number): Float32Array {
  const all = out[IO_NAMES.logits].data as Float32Array;
  return all.subarray(all.length - vocab);
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
}

/**
 * Greedy decoding with the cache: `steps` rows of last-position logits and the model's own argmax of each;
 * the token fed at step i + 1 is forced[i] when given, else the own argmax.
 */
export async function greedyRun(
  session: ort.InferenceSession,
  c: CacheShape & { vocab: number },
  prompt: number[],
  steps: number,
  forced?: Int32Array,
): Promise<{ ids: Int32Array; logits: Float32Array }> {
  const ids = new Int32Array(steps);
  const logits = new Float32Array(steps * c.vocab);
  let out = await session.run(decoderPromptFeeds(prompt, c));
  for (let s = 0; s < steps; s++) {
    const row = lastLogits(out, c.vocab);
    logits.set(row, s * c.vocab);
    ids[s] = argmax(row);
    if (s === steps - 1) break;
    const fed = forced ? forced[s] : ids[s];
    out = await session.run(decoderStepFeeds(out, fed, prompt.length + s, c.layers));
  }
  return { ids, logits };
}

function writeTyped(file: string, data: Float32Array | Int32Array): void {
  writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

export function readInt32(file: string): Int32Array {
  const b = readFileSync(file);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readFloat32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function main(a: DecodeChildArgs): Promise<DecodeChildResult> {
  const options = sessionOptions(a.threads);
  if (a.profileDir) {
    rmSync(a.profileDir, { recursive: true, force: true });
    mkdirSync(a.profileDir, { recursive: true });
    options.enableProfiling = true;
    options.profileFilePrefix = path.join(a.profileDir, 'ort');
  }
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(a.model, options);
  const result: DecodeChildResult = {
    sessionSeconds: (performance.now() - t0) / 1000,
    rssAfterSessionMiB: process.memoryUsage().rss / MiB,
    rssEndMiB: 0,
  };
  const shape = { layers: a.layers, kvHeads: a.kvHeads, headDim: a.headDim, vocab: a.vocab };

  // 1. Prefill: the untimed run yields the cache.
  const prompt = benchPrompt(a.vocab, a.prefillLength);
  const prefillFeeds = decoderPromptFeeds(prompt, shape);
  let t = performance.now();
  const prefilled = await session.run(prefillFeeds);
  const prefillWarmup = (performance.now() - t) / 1000;
  if (!a.profileDir) {
    const runs: number[] = [];
    for (let r = 0; r < a.prefillRuns; r++) {
      t = performance.now();
      const out = await session.run(prefillFeeds);
      argmax(lastLogits(out, a.vocab)); // the first token, as the peer's time includes its greedy pick
      runs.push((performance.now() - t) / 1000);
    }
    result.prefill = {
      tokens: a.prefillLength,
      runsSeconds: runs,
      tokensPerSecond: a.prefillLength / medianOf(runs),
      warmupSeconds: prefillWarmup,
    };
  }

  // 2. Decode one token against the real cache of prefillLength positions.
  const next = argmax(lastLogits(prefilled, a.vocab));
  const decodeFeeds = decoderStepFeeds(prefilled, next, a.prefillLength, a.layers);
  const step = async () => {
    t = performance.now();
    const out = await session.run(decodeFeeds);
    argmax(lastLogits(out, a.vocab));
    return performance.now() - t;
  };
  const warmupMs: number[] = [];
  for (let s = 0; s < a.warmupSteps; s++) warmupMs.push(await step());
  const stepsMs: number[] = [];
  const start = performance.now();
  while (
    stepsMs.length < a.maxDecodeSteps &&
    (stepsMs.length < a.minDecodeSteps || performance.now() - start < a.minDecodeSeconds * 1000)
  )
    stepsMs.push(await step());
  result.decode = {
    pastLength: a.prefillLength,
    warmupMs,
    stepsMs,
    meanMs: stepsMs.reduce((x, y) => x + y, 0) / stepsMs.length,
    medianMs: medianOf(stepsMs),
  };

  if (a.profileDir) {
    session.endProfiling();
    const file = readdirSync(a.profileDir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`no profile written to ${a.profileDir}`);
    result.profile = summariseProfile(path.join(a.profileDir, file), stepsMs.length, a.vocab);
  }

  // 3. Greedy generation (fidelity between formats), after every timing.
  if (a.generate && !a.profileDir) {
    const g = a.generate;
    const forced = g.forcedIdsFile ? readInt32(g.forcedIdsFile) : undefined;
    const run = await greedyRun(session, shape, benchPrompt(a.vocab, g.promptLength, 3), g.steps, forced);
    writeTyped(g.idsFile, run.ids);
    writeTyped(g.logitsFile, run.logits);
    result.generate = { steps: g.steps, forced: !!forced };
  }
  await session.release();
  result.rssEndMiB = process.memoryUsage().rss / MiB;
  return result;
}

interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
}

/** Per-op kernel time of the last `steps` runs of an onnxruntime profile (Chrome trace JSON). */
export function summariseProfile(file: string, steps: number, vocab: number): ProfileSummary {
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((x, y) => x.ts - y.ts)
    .slice(-steps);
  const inRun = (e: TraceEvent) => runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inRun(e));
  const byOp = new Map<string, OpTime>();
  const byNode = new Map<string, { node: string; op: string; us: number; vocabOut: boolean }>();
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    const o = byOp.get(op) ?? { op, ms: 0, count: 0 };
    o.ms += e.dur / 1000;
    o.count++;
    byOp.set(op, o);
    const node = e.name.slice(0, -'_kernel_time'.length);
    const shapes = e.args?.output_type_shape ?? [];
    const vocabOut = shapes.some((s) => Object.values(s).some((d) => d[d.length - 1] === vocab));
    const n = byNode.get(node) ?? { node, op, us: 0, vocabOut };
    n.us += e.dur;
    byNode.set(node, n);
  }
  const perRun = (ms: number) => ms / runs.length;
  const nodes = [...byNode.values()].map((n) => ({
    node: n.node,
    op: n.op,
    ms: perRun(n.us / 1000),
    vocabOut: n.vocabOut,
  }));
  const head = nodes
    .filter((n) => n.vocabOut && (n.op === 'Gemm' || n.op === 'MatMul' || n.op === 'MatMulNBits'))
    .sort((x, y) => y.ms - x.ms)[0];
  return {
    steps: runs.length,
    runMs: perRun(runs.reduce((s, r) => s + r.dur, 0) / 1000),
    kernelMs: perRun(kernels.reduce((s, e) => s + e.dur, 0) / 1000),
    head: head && { node: head.node, op: head.op, ms: head.ms },
    byOp: [...byOp.values()]
      .map((o) => ({ op: o.op, ms: perRun(o.ms), count: o.count / runs.length }))
      .sort((x, y) => y.ms - x.ms),
    topNodes: nodes
      .sort((x, y) => y.ms - x.ms)
      .slice(0, 8)
      .map(({ node, op, ms }) => ({ node, op, ms })),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const args = JSON.parse(process.argv[2]) as DecodeChildArgs;
  const result = await main(args);
  writeFileSync(args.resultFile, JSON.stringify(result, null, 2));
}
