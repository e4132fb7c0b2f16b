/**
 * One format's decode measurement, in its own process (so its peak RSS is attributable and sessions
 * never pile up). Run by bench/decode-2b4t.ts as `node --import tsx bench/lib/decode-child.ts '<json>'`.
 *
 * Session: onnxruntime-node, CPU EP, intraOpNumThreads from the arguments, graphOptimizationLevel 'all'.
 * 1. probe: a fixed prompt of `probeLength` tokens with an empty cache; its logits go to `logitsFile`.
 * 2. prefill: a `prefillLength`-token prompt with an empty cache; one untimed run (its present.* is the
 *    cache for step 3), then `prefillRuns` timed runs.
 * 3. decode: one token (the prefill's greedy next token) at position `prefillLength` against that real
 *    cache (past_sequence_length = prefillLength), the same feeds every step; warm-up steps, then at
 *    least `minDecodeSteps` timed steps and at least `minDecodeSeconds`.
 * With `profileDir`, the session profiles instead and only the decode steps are reported, per op type.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { IO_NAMES } from '../../src/core/bitnet/decoder-graph.ts';
import { checkPrompt } from '../../src/core/check/runtime-check.ts';

export interface DecodeChildArgs {
  model: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  bos: number;
  threads: number;
  probeLength: number;
  prefillLength: number;
  prefillRuns: number;
  warmupSteps: number;
  minDecodeSteps: number;
  minDecodeSeconds: number;
  maxDecodeSteps: number;
  resultFile: string;
  /** Probe logits, raw float32 [probeLength, vocab]. */
  logitsFile?: string;
  /** Logits of the first decode step (the token after the 128-token prefill), raw float32 [vocab]. */
  nextLogitsFile?: string;
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
  probeSeconds?: number;
  prefill?: { tokens: number; runsSeconds: number[]; tokensPerSecond: number; warmupSeconds: number };
  decode?: {
    pastLength: number;
    warmupMs: number[];
    stepsMs: number[];
    meanMs: number;
    medianMs: number;
    tokensPerSecond: number;
  };
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

/** Feeds for a whole prompt with an empty cache (past_sequence_length 0). */
export function decoderPromptFeeds(
  ids: number[],
  layers: number,
  kvHeads: number,
  headDim: number,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [IO_NAMES.inputIds]: int64([1, ids.length], ids),
    [IO_NAMES.attentionMask]: int64([1, ids.length], new Array<number>(ids.length).fill(1)),
    [IO_NAMES.positionIds]: int64(
      [1, ids.length],
      ids.map((_, i) => i),
    ),
  };
  const empty = new Float32Array(0);
  for (let i = 0; i < layers; i++) {
    feeds[IO_NAMES.pastKey(i)] = new ort.Tensor('float32', empty, [1, kvHeads, 0, headDim]);
    feeds[IO_NAMES.pastValue(i)] = new ort.Tensor('float32', empty, [1, kvHeads, 0, headDim]);
  }
  return feeds;
}

/** Feeds for one decode step after a prefill of `past` tokens: its greedy next token against its cache. */
export function decoderStepFeeds(
  prefilled: ort.InferenceSession.OnnxValueMapType,
  past: number,
  layers: number,
  vocab: number,
): Record<string, ort.Tensor> {
  const next = argmaxLast(prefilled[IO_NAMES.logits].data as Float32Array, vocab);
  const feeds: Record<string, ort.Tensor> = {
    [IO_NAMES.inputIds]: int64([1, 1], [next]),
    [IO_NAMES.attentionMask]: int64([1, past + 1], new Array<number>(past + 1).fill(1)),
    [IO_NAMES.positionIds]: int64([1, 1], [past]),
  };
  for (let i = 0; i < layers; i++) {
    feeds[IO_NAMES.pastKey(i)] = prefilled[IO_NAMES.presentKey(i)] as ort.Tensor;
    feeds[IO_NAMES.pastValue(i)] = prefilled[IO_NAMES.presentValue(i)] as ort.Tensor;
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

function argmaxLast(logits: Float32Array, vocab: number): number {
  const base = logits.length - vocab;
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[base + v] > logits[base + best]) best = v;
  return best;
}

export function medianOf(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function writeFloats(file: string, data: Float32Array): void {
  writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
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

  const promptFeeds = (ids: number[]) => decoderPromptFeeds(ids, a.layers, a.kvHeads, a.headDim);
  const seconds = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };

  // 1. Probe (also the session's first run).
  if (!a.profileDir) {
    const probe = checkPrompt(a.vocab, a.bos, a.probeLength, 3);
    const t = performance.now();
    const out = await session.run(promptFeeds(probe));
    result.probeSeconds = (performance.now() - t) / 1000;
    if (a.logitsFile) writeFloats(a.logitsFile, out[IO_NAMES.logits].data as Float32Array);
  }

  // 2. Prefill: the untimed run yields the cache.
  const prompt = checkPrompt(a.vocab, a.bos, a.prefillLength, 1);
  const prefillFeeds = promptFeeds(prompt);
  let t = performance.now();
  const prefilled = await session.run(prefillFeeds);
  const prefillWarmup = (performance.now() - t) / 1000;
  if (!a.profileDir) {
    const runs: number[] = [];
    for (let r = 0; r < a.prefillRuns; r++) runs.push(await seconds(() => session.run(prefillFeeds)));
    result.prefill = {
      tokens: a.prefillLength,
      runsSeconds: runs,
      tokensPerSecond: a.prefillLength / medianOf(runs),
      warmupSeconds: prefillWarmup,
    };
  }

  // 3. Decode one token against the real cache of prefillLength positions.
  const decodeFeeds = decoderStepFeeds(prefilled, a.prefillLength, a.layers, a.vocab);
  const warmupMs: number[] = [];
  for (let s = 0; s < a.warmupSteps; s++) {
    t = performance.now();
    const out = await session.run(decodeFeeds);
    warmupMs.push(performance.now() - t);
    if (s === 0 && a.nextLogitsFile) writeFloats(a.nextLogitsFile, out[IO_NAMES.logits].data as Float32Array);
  }
  const stepsMs: number[] = [];
  const start = performance.now();
  while (
    stepsMs.length < a.maxDecodeSteps &&
    (stepsMs.length < a.minDecodeSteps || performance.now() - start < a.minDecodeSeconds * 1000)
  ) {
    t = performance.now();
    await session.run(decodeFeeds);
    stepsMs.push(performance.now() - t);
  }
  const meanMs = stepsMs.reduce((x, y) => x + y, 0) / stepsMs.length;
  const medianMs = medianOf(stepsMs);
  result.decode = {
    pastLength: a.prefillLength,
    warmupMs,
    stepsMs,
    meanMs,
    medianMs,
    tokensPerSecond: 1000 / meanMs,
  };

  if (a.profileDir) {
    session.endProfiling();
    const file = readdirSync(a.profileDir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error(`no profile written to ${a.profileDir}`);
    result.profile = summariseProfile(path.join(a.profileDir, file), stepsMs.length, a.vocab);
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
