/**
 * The kernel ceiling: how close onnxruntime-node's CPU kernels can possibly get to llama.cpp on the 2B-4T shape,
 * measured in ONE run, so the issue-7 targets can be split into those bounded by the kernels and those bounded
 * by our graph.
 *
 *   - every product of a decoder step as a single-op ONNX model (built with the converter's GraphBuilder,
 *     planLayout and writeModel; weights external, random but deterministic, cached in bench/.cache/ceiling),
 *     each in its own onnxruntime-node session (`--threads` intra-op threads, spinning off as in
 *     bench/compare-decode.ts, since idle sessions' spinning threads otherwise steal the cores):
 *       · the int2 body as the converter builds it (MatMulNBits bits 2, block 128, accuracy_level 4, pinned K:
 *         127 values per block, docs/spec.md §7): qkv, o, gate|up, down;
 *       · the same four as 4-bit MatMulNBits (block 128, accuracy_level 4, same pinned K) and as int8
 *         MatMulInteger (uint8 activations x + 128 with a_zero_point 128, int8 ternary weights [K, N], K unpinned);
 *       · the head (vocab × hidden): the float32 table through a Reshape into Gemm(transB) (the exact head of
 *         src/core/bitnet/fused-decoder.ts), MatMulNBits 8-bit block 32 (the q8 head's candidate product) and
 *         4-bit block 32;
 *       · a null op (Relu on [M, hidden]): what one session.run costs around a kernel (at M 1; at M 128 it
 *         also copies 1.3 MB out, so only its M 1 time is used);
 *     activations are integers in [-127, 127] as float32 (pins 127 in the pinned layouts), M = 1 (decode) and
 *     M = 128 (prefill); one untimed warm-up run each, then `--rounds` rounds, each running every kernel once
 *     in turn (so no kernel finds its weights in cache from its own previous run: in a real step 30 layers
 *     stream through), min and median per kernel;
 *   - llama.cpp between the rounds: one child process per round (bench/lib/llama-child.ts, the TQ2_0 GGUF of
 *     the same checkpoint, prefill 128 tokens and decode at past 128, as bench/decode-2b4t.ts runs it);
 *   - floors: 30 layers × the four body products + the head, from the kernels' min times: decode ms/token for
 *     int2 with the exact, q8 and 4-bit head (and the other body routes with the exact head); prefill of 128
 *     tokens (the head on the last position only: all a first token needs) for the 2-bit, 4-bit and int8 bodies,
 *     and for int2 with the head on all 128 positions as the graph does today. Each against llama.cpp's best
 *     round in the same run and the issue-7 target: "reachable at best" with the time left for everything
 *     else, or "out of reach even with zero overhead". The verdict uses the floor net of the null op's M 1 run
 *     time per kernel call (the generous floor: as if a call cost nothing around its kernel); the raw floor is
 *     printed beside it;
 *   - the load average before every measurement.
 *
 *   npm run bench:ceiling                                          (10 rounds; results in bench/.cache/results-ceiling.json)
 *   npm run bench:ceiling -- --checkpoint /path/to/2b4t-packed --rounds 3   (or BENCH_2B4T_CHECKPOINT=…)
 *   npm run bench:ceiling -- --rounds 1 --skip-llama               (kernels only)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { candidateHead } from '../src/core/formats/head.ts';
import { BITNET_2B_4T_DIMS } from '../src/core/bitnet/synthetic.ts';
import { pinnedBlocks } from '../src/core/formats/int2.ts';
import { GraphBuilder, type WeightSpec } from '../src/core/onnx/graph.ts';
import { planLayout } from '../src/core/onnx/layout.ts';
import { writeModel, type EmitBytes } from '../src/core/onnx/writer.ts';
import { createNodeOutputTarget } from '../src/platform/node/node-files.ts';
import { medianOf } from './lib/common.ts';
import { sessionOptions } from './lib/decode-child.ts';
import type { LlamaChildArgs, LlamaChildResult } from './lib/llama-child.ts';
import { ensureGguf, ensurePeerInstalled, PEER_DIR } from './lib/peer-llamacpp.ts';
import {
  BENCH_DIR,
  CACHE_DIR,
  REPO_DIR,
  ensureCheckpoint,
  loadAverage,
  ortNodeVersion,
  runRecord,
  timedTs,
} from './lib/proc.ts';

const { values: opts } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    rounds: { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
    'skip-llama': { type: 'boolean', default: false },
  },
});
const THREADS = Number(opts.threads);
const ROUNDS = Number(opts.rounds);
const DIMS = BITNET_2B_4T_DIMS;
const PREFILL = 128;
const MS = [1, PREFILL];
const BLOCK = 128;
const MB = 1e6;
const CHILD_TIMEOUT_MS = 20 * 60 * 1000;
const CHECKPOINT_DIR = path.resolve(
  opts.checkpoint ?? process.env.BENCH_2B4T_CHECKPOINT ?? path.join(CACHE_DIR, '2b4t-packed'),
);
const MODELS_DIR = path.join(CACHE_DIR, 'ceiling');
const RESULTS = path.join(CACHE_DIR, 'results-ceiling.json');
const LLAMA_CHILD = path.join(BENCH_DIR, 'lib', 'llama-child.ts');
/** Bumped when the models' construction changes, so cached models are rebuilt. */
const BUILD_VERSION = 1;
/**
 * Load average (1 min) at the start above which the run is marked noisy: other processes then share the two
 * cores, and llama.cpp (whose threads meet at a barrier after every op) swings far more than a single
 * onnxruntime kernel (measured at load 3.1–3.7, three runs a few minutes apart: llama.cpp 112, 434 and 505
 * ms/token, about 50 quiet, see docs/benchmarks.md), so a ratio taken then can be wrong either way.
 */
const QUIET_LOAD = 1;
/** The issue-7 targets, as ratios to llama.cpp in the same run (tokens/s over tokens/s). */
const TARGET = { exactDecode: 0.75, q8Decode: 1.1, prefill: 1.5 };

type Route = 'int2' | 'nb4' | 'int8' | 'head-f32' | 'head-q8' | 'head-q4' | 'null';
type Product = 'qkv' | 'o' | 'gate|up' | 'down' | 'head' | 'run';

interface KernelSpec {
  id: string;
  route: Route;
  product: Product;
  label: string;
  /** Output features. */
  n: number;
  /** Input features the operator sees (pinned K for int2 and 4-bit). */
  k: number;
  /** Input features of the product itself. */
  logicalK: number;
  /** MatMulNBits only. */
  bits?: number;
  blockSize?: number;
  pinned: boolean;
}

interface Measure {
  runsMs: number[];
  load1Before: number[];
  minMs?: number;
  medianMs?: number;
  /** N · K(operator) · M ÷ the min time. */
  gmacPerS?: number;
}

interface KernelResult extends KernelSpec {
  weightBytes: number;
  sessionSeconds?: number;
  reused?: boolean;
  byM: Record<string, Measure>;
  error?: string;
}

interface LlamaRound {
  round: number;
  load1Before: number;
  loadSeconds?: number;
  prefillTokPerS?: number;
  decodeMedianMs?: number;
  error?: string;
}

const log = (s = '') => console.log(s);
const f = (n: number | undefined, d = 1) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(d));
const load1 = () => loadAverage()[0];

// ---- the kernels ---------------------------------------------------------------------------------------

function kernelSpecs(): KernelSpec[] {
  const { hiddenSize: H, intermediateSize: I, numHeads, numKvHeads, headDim, vocabSize: V } = DIMS;
  const products: { product: Product; slug: string; n: number; k: number }[] = [
    { product: 'qkv', slug: 'qkv', n: (numHeads + 2 * numKvHeads) * headDim, k: H },
    { product: 'o', slug: 'o', n: H, k: numHeads * headDim },
    { product: 'gate|up', slug: 'gateup', n: 2 * I, k: H },
    { product: 'down', slug: 'down', n: H, k: I },
  ];
  const pinnedK = (k: number) => pinnedBlocks(k, BLOCK) * BLOCK;
  const body = (route: 'int2' | 'nb4' | 'int8', name: string) =>
    products.map((p): KernelSpec => ({
      id: `${route}-${p.slug}`,
      route,
      product: p.product,
      label: `${name} ${p.product}`,
      n: p.n,
      k: route === 'int8' ? p.k : pinnedK(p.k),
      logicalK: p.k,
      ...(route === 'int8' ? {} : { bits: route === 'int2' ? 2 : 4, blockSize: BLOCK }),
      pinned: route !== 'int8',
    }));
  const head = { product: 'head' as const, n: V, k: H, logicalK: H, pinned: false };
  return [
    ...body('int2', 'int2'),
    ...body('nb4', '4-bit'),
    ...body('int8', 'int8'),
    { id: 'head-f32', route: 'head-f32', label: 'head f32 Gemm', ...head },
    {
      id: 'head-q8',
      route: 'head-q8',
      label: `head 8-bit b${candidateHead('q8')!.blockSize}`,
      bits: 8,
      blockSize: candidateHead('q8')!.blockSize,
      ...head,
    },
    {
      id: 'head-q4',
      route: 'head-q4',
      label: `head 4-bit b${candidateHead('q4')!.blockSize}`,
      bits: 4,
      blockSize: candidateHead('q4')!.blockSize,
      ...head,
    },
    {
      id: 'null',
      route: 'null',
      product: 'run',
      label: 'null op (Relu)',
      n: H,
      k: H,
      logicalK: H,
      pinned: false,
    },
  ];
}

/** The weights a kernel reads per call (codes and block scales, the int8 matrix, or the float table). */
function weightBytes(s: KernelSpec): number {
  if (s.route === 'null') return 0;
  if (s.route === 'int8') return s.n * s.k;
  if (s.route === 'head-f32') return s.n * s.k * 4;
  const blocks = s.k / s.blockSize!;
  return (s.n * s.k * s.bits!) / 8 + s.n * blocks * 4;
}

/** xorshift32, seeded per kernel: the same weights on every run. */
function rng(seedText: string): () => number {
  let s = 2166136261;
  for (const c of seedText) s = Math.imul(s ^ c.charCodeAt(0), 16777619) >>> 0;
  s ||= 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const CHUNK_WORDS = 1 << 20;

/** Emits `bytes` bytes, 4 MiB at a time, each 32-bit word made by `word` (the buffer is reused). */
async function emitWords(bytes: number, word: () => number, emit: EmitBytes): Promise<void> {
  const chunk = new Uint32Array(CHUNK_WORDS);
  const view = new Uint8Array(chunk.buffer);
  for (let done = 0; done < bytes; done += view.length) {
    const n = Math.min(view.length, bytes - done);
    for (let i = 0; i < Math.ceil(n / 4); i++) chunk[i] = word();
    await emit(view.subarray(0, n));
  }
}

const floatWord = (next: () => number, lo: number, hi: number) => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  return () => {
    f32[0] = lo + ((next() >>> 8) / 2 ** 24) * (hi - lo);
    return u32[0];
  };
};

/** Four int8 ternary values (−1, 0, +1) per word. */
const ternaryWord = (next: () => number) => () => {
  let w = 0;
  for (let b = 0; b < 4; b++) w |= (((next() % 3) - 1) & 0xff) << (8 * b);
  return w >>> 0;
};

async function fillWeight(s: KernelSpec, w: WeightSpec, emit: EmitBytes): Promise<void> {
  const next = rng(`${s.id}/${w.name}`);
  if (w.name === 'scales') {
    // The body's block scales are 1 (as the converter writes them); the heads' are per-block max|w| / 127.
    const word = s.product === 'head' ? floatWord(next, 1e-4, 1e-3) : floatWord(() => 0, 1, 1);
    return emitWords(w.byteLength, word, emit);
  }
  if (s.route === 'int8') return emitWords(w.byteLength, ternaryWord(next), emit);
  if (s.route === 'head-f32') return emitWords(w.byteLength, floatWord(next, -0.05, 0.05), emit);
  return emitWords(w.byteLength, next, emit); // packed codes: every byte is valid
}

function buildGraph(s: KernelSpec): GraphBuilder {
  const g = new GraphBuilder(s.id);
  g.useOpset('com.microsoft', 1);
  if (s.route === 'null') {
    g.node('Relu', [g.input('x', 'float32', ['M', s.k])], ['y']);
    g.output('y', 'float32', ['M', s.n]);
    return g;
  }
  if (s.route === 'int8') {
    const x = g.input('x', 'uint8', ['M', s.k]);
    const w = g.weight({ name: 'weight', type: 'int8', dims: [s.k, s.n], byteLength: s.k * s.n });
    g.node('MatMulInteger', [x, w, g.constant('uint8', [], [128])], ['y']);
    g.output('y', 'int32', ['M', s.n]);
    return g;
  }
  const x = g.input('x', 'float32', ['M', s.k]);
  if (s.route === 'head-f32') {
    const w = g.weight({ name: 'table', type: 'float32', dims: [s.n, s.k], byteLength: s.n * s.k * 4 });
    // As exactHead: the Reshape keeps the CPU provider from pre-packing a second copy of the table.
    const table = g.op('Reshape', [w, g.constant('int64', [2], [s.n, s.k])]);
    g.node('Gemm', [x, table], ['y'], { transB: { i: 1 } });
  } else {
    const bs = s.blockSize!;
    const blocks = s.k / bs;
    const rowBytes = (bs * s.bits!) / 8;
    const w = g.weight({
      name: 'codes',
      type: 'uint8',
      dims: [s.n, blocks, rowBytes],
      byteLength: s.n * blocks * rowBytes,
    });
    const scales = g.weight({
      name: 'scales',
      type: 'float32',
      dims: [s.n * blocks],
      byteLength: s.n * blocks * 4,
    });
    const attrs = {
      K: { i: s.k },
      N: { i: s.n },
      bits: { i: s.bits! },
      block_size: { i: bs },
      accuracy_level: { i: 4 },
    };
    g.node('MatMulNBits', [x, w, scales], ['y'], attrs, 'com.microsoft');
  }
  g.output('y', 'float32', ['M', s.n]);
  return g;
}

/** The kernel's model in bench/.cache/ceiling/<id>, built once and reused while its spec is unchanged. */
async function ensureModel(s: KernelSpec): Promise<{ file: string; reused: boolean }> {
  const dir = path.join(MODELS_DIR, s.id);
  const file = path.join(dir, 'model.onnx');
  const stampFile = path.join(dir, 'kernel.json');
  const stamp = JSON.stringify({ version: BUILD_VERSION, spec: s });
  if (existsSync(file) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)
    return { file, reused: true };
  rmSync(dir, { recursive: true, force: true });
  const g = buildGraph(s);
  const target = createNodeOutputTarget(file);
  try {
    await writeModel({
      graph: g,
      layout: planLayout(g.weights, { modelFile: 'model.onnx', external: 'always' }),
      target,
      producerName: 'bitnet2onnx-bench',
      producerVersion: String(BUILD_VERSION),
      fill: (w, emit) => fillWeight(s, w, emit),
    });
    await target.commit();
  } catch (err) {
    await target.discard();
    throw err;
  }
  writeFileSync(stampFile, stamp);
  return { file, reused: false };
}

/**
 * The kernel's input for M rows: integers in [-127, 127] (as float32, or + 128 as uint8 for MatMulInteger);
 * in a pinned layout every block's last slot, and the padding past K, hold the pin 127 (docs/spec.md §7).
 */
function feeds(s: KernelSpec, m: number): Record<string, ort.Tensor> {
  const values = new Float32Array(m * s.k);
  const bs = s.blockSize ?? 0;
  for (let c = 0; c < s.k; c++) {
    // Which of the product's K inputs sits in column c (-1: a pin or padding).
    let k = c;
    if (s.pinned) {
      const slot = c % bs;
      k = slot === bs - 1 ? -1 : Math.floor(c / bs) * (bs - 1) + slot;
      if (k >= s.logicalK) k = -1;
    }
    for (let r = 0; r < m; r++)
      values[r * s.k + c] = k < 0 ? 127 : ((r * 7919 + k * 104729 + 13) % 255) - 127;
  }
  const x =
    s.route === 'int8'
      ? new ort.Tensor(
          'uint8',
          Uint8Array.from(values, (v) => v + 128),
          [m, s.k],
        )
      : new ort.Tensor('float32', values, [m, s.k]);
  return { x };
}

// ---- llama.cpp -----------------------------------------------------------------------------------------

function runLlama(gguf: string, round: number): LlamaRound {
  const fig: LlamaRound = { round, load1Before: load1() };
  const args: LlamaChildArgs = {
    peerDir: PEER_DIR,
    gguf,
    threads: THREADS,
    prefillLength: PREFILL,
    prefillRuns: 2,
    warmupSteps: 2,
    minDecodeSteps: 12,
    minDecodeSeconds: 3,
    maxDecodeSteps: 60,
    resultFile: path.join(MODELS_DIR, 'llama.json'),
  };
  try {
    rmSync(args.resultFile, { force: true });
    timedTs(LLAMA_CHILD, [JSON.stringify(args)], { timeoutMs: CHILD_TIMEOUT_MS });
    const r = JSON.parse(readFileSync(args.resultFile, 'utf8')) as LlamaChildResult;
    fig.loadSeconds = r.loadSeconds;
    fig.prefillTokPerS = r.prefill.tokensPerSecond;
    fig.decodeMedianMs = r.decode.medianMs;
    if (r.threads !== THREADS) fig.error = `llama.cpp ran on ${r.threads} threads, not ${THREADS}`;
  } catch (err) {
    fig.error = (err as Error).message.slice(0, 3000);
  }
  return fig;
}

// ---- floors --------------------------------------------------------------------------------------------

interface Floor {
  name: string;
  kind: 'decode' | 'prefill';
  /** Kernel ids and how many calls of each one token (decode) or the 128-token prompt (prefill) makes. */
  parts: { id: string; m: number; calls: number }[];
  target?: number;
  targetNote?: string;
  /** ms per token (decode) or per 128-token prompt (prefill), from the min times. */
  ms?: number;
  /** The same, less the null op's min time at M 1 (the cost of a session.run around a kernel) per call. */
  netMs?: number;
  tokPerS?: number;
  netTokPerS?: number;
  llamaTokPerS?: number;
  /** netTokPerS ÷ llamaTokPerS. */
  ratio?: number;
  rawRatio?: number;
  verdict?: string;
  /** ms per token / per prompt left for everything but these kernels at the target (negative: out of reach). */
  budgetMs?: number;
}

function floorSpecs(): Floor[] {
  const L = DIMS.numLayers;
  const body = (route: string, m: number) =>
    ['qkv', 'o', 'gateup', 'down'].map((p) => ({ id: `${route}-${p}`, m, calls: L }));
  const head = (id: string, m: number) => ({ id, m, calls: 1 });
  return [
    {
      name: 'decode, int2 body + exact head',
      kind: 'decode',
      parts: [...body('int2', 1), head('head-f32', 1)],
      target: TARGET.exactDecode,
      targetNote: 'exact',
    },
    {
      name: 'decode, int2 body + q8 head',
      kind: 'decode',
      parts: [...body('int2', 1), head('head-q8', 1)],
      target: TARGET.q8Decode,
      targetNote: 'q8',
    },
    {
      name: 'decode, int2 body + 4-bit head',
      kind: 'decode',
      parts: [...body('int2', 1), head('head-q4', 1)],
      target: TARGET.q8Decode,
      targetNote: 'q8',
    },
    {
      name: 'decode, 4-bit body + exact head',
      kind: 'decode',
      parts: [...body('nb4', 1), head('head-f32', 1)],
      target: TARGET.exactDecode,
      targetNote: 'exact',
    },
    {
      name: 'decode, int8 body + exact head',
      kind: 'decode',
      parts: [...body('int8', 1), head('head-f32', 1)],
      target: TARGET.exactDecode,
      targetNote: 'exact',
    },
    {
      name: 'prefill, int2 body + head on the last position',
      kind: 'prefill',
      parts: [...body('int2', PREFILL), head('head-f32', 1)],
      target: TARGET.prefill,
    },
    {
      name: 'prefill, int8 body + head on the last position',
      kind: 'prefill',
      parts: [...body('int8', PREFILL), head('head-f32', 1)],
      target: TARGET.prefill,
    },
    {
      name: 'prefill, 4-bit body + head on the last position',
      kind: 'prefill',
      parts: [...body('nb4', PREFILL), head('head-f32', 1)],
      target: TARGET.prefill,
    },
    {
      name: 'prefill, int2 body + head on all 128 (graph today)',
      kind: 'prefill',
      parts: [...body('int2', PREFILL), head('head-f32', PREFILL)],
      target: TARGET.prefill,
    },
  ];
}

function computeFloor(
  fl: Floor,
  kernels: Map<string, KernelResult>,
  llama?: { decodeMs: number; prefillTokPerS: number },
): Floor {
  const min = (id: string, m: number) => kernels.get(id)?.byM[m]?.minMs;
  let ms = 0;
  let overhead = 0;
  for (const p of fl.parts) {
    const t = min(p.id, p.m);
    if (t === undefined) return fl;
    ms += p.calls * t;
    overhead += p.calls * (min('null', 1) ?? 0);
  }
  const netMs = ms - overhead;
  const perSecond = (x: number) => (fl.kind === 'decode' ? 1000 / x : (PREFILL * 1000) / x);
  const out: Floor = { ...fl, ms, netMs, tokPerS: perSecond(ms), netTokPerS: perSecond(netMs) };
  if (!llama) return out;
  out.llamaTokPerS = fl.kind === 'decode' ? 1000 / llama.decodeMs : llama.prefillTokPerS;
  out.ratio = out.netTokPerS! / out.llamaTokPerS;
  out.rawRatio = out.tokPerS! / out.llamaTokPerS;
  if (fl.target !== undefined) {
    // The time a token (decode) or the prompt (prefill) may take at the target.
    const allowedMs = perSecond(fl.target * out.llamaTokPerS);
    out.budgetMs = allowedMs - netMs;
    out.verdict = out.ratio >= fl.target ? 'reachable at best' : 'out of reach even with zero overhead';
  }
  return out;
}

// ---- main ----------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const ortVersion = ortNodeVersion();
  const loadStart = loadAverage();
  log(
    `kernel ceiling — ${os.cpus().length} × ${os.cpus()[0]?.model}, ${f(os.totalmem() / 2 ** 30, 1)} GiB RAM, ` +
      `node ${process.version}, onnxruntime-node ${ortVersion}, ${THREADS} threads, ${ROUNDS} round(s); ` +
      `load average ${loadStart.join(' ')}`,
  );
  mkdirSync(MODELS_DIR, { recursive: true });

  // The peer first: a missing GGUF is converted before anything is timed.
  let gguf: string | undefined;
  let peerVersion: string | undefined;
  let peerError: string | undefined;
  if (!opts['skip-llama']) {
    try {
      peerVersion = ensurePeerInstalled(log);
      await ensureCheckpoint(CHECKPOINT_DIR, DIMS);
      gguf = ensureGguf(CHECKPOINT_DIR, CACHE_DIR, log).file;
      log(`llama.cpp: node-llama-cpp ${peerVersion}, ${path.relative(REPO_DIR, gguf)}`);
    } catch (err) {
      peerError = (err as Error).message.slice(0, 3000);
      log(`peer unavailable: ${peerError.split('\n')[0]}`);
    }
  }

  // Models and sessions (all open at once; spinning off, so an idle one costs nothing).
  const specs = kernelSpecs();
  const results = new Map<string, KernelResult>();
  const sessions = new Map<string, ort.InferenceSession>();
  const inputs = new Map<string, Record<string, ort.Tensor>>();
  const options: ort.InferenceSession.SessionOptions = {
    ...sessionOptions(THREADS),
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  for (const s of specs) {
    const r: KernelResult = { ...s, weightBytes: weightBytes(s), byM: {} };
    results.set(s.id, r);
    try {
      const t0 = performance.now();
      const { file, reused } = await ensureModel(s);
      const built = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      sessions.set(s.id, await ort.InferenceSession.create(file, options));
      r.sessionSeconds = (performance.now() - t1) / 1000;
      r.reused = reused;
      for (const m of MS) {
        inputs.set(`${s.id}@${m}`, feeds(s, m));
        r.byM[m] = { runsMs: [], load1Before: [] };
      }
      log(
        `[${s.id}] ${reused ? 'reused' : `built in ${f(built, 1)} s`}, ${f(r.weightBytes / MB, 1)} MB of weights, ` +
          `session ${f(r.sessionSeconds, 2)} s`,
      );
    } catch (err) {
      r.error = (err as Error).message.slice(0, 3000);
      log(`[${s.id}] ERROR ${r.error.split('\n')[0]}`);
    }
  }
  const live = specs.filter((s) => sessions.has(s.id));
  const run = async (s: KernelSpec, m: number) => {
    const t = performance.now();
    await sessions.get(s.id)!.run(inputs.get(`${s.id}@${m}`)!);
    return performance.now() - t;
  };
  for (const m of MS) for (const s of live) await run(s, m); // warm-up

  const llamaRounds: LlamaRound[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = performance.now();
    for (const m of MS)
      for (const s of live) {
        const x = results.get(s.id)!.byM[m];
        x.load1Before.push(load1());
        x.runsMs.push(await run(s, m));
      }
    const loads = live.flatMap((s) => MS.map((m) => results.get(s.id)!.byM[m].load1Before.at(-1)!));
    log(
      `[round ${round}] kernels in ${f((performance.now() - t0) / 1000, 1)} s, load1 ${f(Math.min(...loads), 2)}–${f(Math.max(...loads), 2)}`,
    );
    if (gguf) {
      const l = runLlama(gguf, round);
      llamaRounds.push(l);
      log(
        l.error
          ? `[round ${round}] llama.cpp load1 ${f(l.load1Before, 2)}: ERROR ${l.error.split('\n').slice(0, 3).join(' / ')}`
          : `[round ${round}] llama.cpp load1 ${f(l.load1Before, 2)}: prefill ${f(l.prefillTokPerS, 1)} tok/s, ` +
              `decode ${f(l.decodeMedianMs, 1)} ms/token, load ${f(l.loadSeconds, 2)} s`,
      );
    }
  }
  for (const s of sessions.values()) await s.release();
  const loadEnd = loadAverage();

  for (const r of results.values())
    for (const m of MS) {
      const x = r.byM[m];
      if (!x?.runsMs.length) continue;
      x.minMs = Math.min(...x.runsMs);
      x.medianMs = medianOf(x.runsMs);
      x.gmacPerS = r.route === 'null' ? undefined : (r.n * r.k * m) / (x.minMs * 1e6);
    }

  const llamaOk = llamaRounds.filter((l) => !l.error && l.decodeMedianMs !== undefined);
  const llama = llamaOk.length
    ? {
        decodeMs: Math.min(...llamaOk.map((l) => l.decodeMedianMs!)),
        prefillTokPerS: Math.max(...llamaOk.map((l) => l.prefillTokPerS ?? 0)),
        decodeMsMedian: medianOf(llamaOk.map((l) => l.decodeMedianMs!)),
        prefillTokPerSMedian: medianOf(llamaOk.map((l) => l.prefillTokPerS ?? 0)),
      }
    : undefined;
  const floors = floorSpecs().map((fl) => computeFloor(fl, results, llama));

  writeFileSync(
    RESULTS,
    JSON.stringify(
      {
        ...runRecord(started, { peerVersion, threads: THREADS, rounds: ROUNDS, checkpoint: CHECKPOINT_DIR }),
        gguf,
        loadAverage: { start: loadStart, end: loadEnd },
        noisy: loadStart[0] > QUIET_LOAD,
        kernels: [...results.values()],
        llama: { rounds: llamaRounds, best: llama, error: peerError },
        targets: TARGET,
        floors,
      },
      null,
      2,
    ),
  );

  // ---- report ----
  log(
    `\n=== single-op kernels, 2B-4T shape — ${THREADS} threads, spinning off; ${ROUNDS} round(s), one run per kernel per round ===`,
  );
  log(
    `K = the operator's K (pinned: 127 values + the pin per block of ${BLOCK}); weights MB = bytes read per call; ` +
      `G MAC/s = N·K·M ÷ the min time; load1 = load average before the kernel's runs (min–max)`,
  );
  const kernelRows = [...results.values()].map((r) => {
    const [a, b] = MS.map((m) => r.byM[m]);
    const loads = MS.flatMap((m) => r.byM[m]?.load1Before ?? []);
    return [
      r.label,
      String(r.n),
      String(r.k),
      f(r.weightBytes / MB, 1),
      f(r.sessionSeconds, 2),
      f(a?.minMs, 3),
      f(a?.medianMs, 3),
      f(a?.gmacPerS, 1),
      f(b?.minMs, 2),
      f(b?.medianMs, 2),
      f(b?.gmacPerS, 1),
      loads.length ? `${f(Math.min(...loads), 2)}–${f(Math.max(...loads), 2)}` : '—',
    ];
  });
  printTable(
    [
      'kernel',
      'N',
      'K',
      'weights MB',
      'load s',
      'M1 min ms',
      'M1 med ms',
      'M1 GMAC/s',
      'M128 min ms',
      'M128 med ms',
      'M128 GMAC/s',
      'load1',
    ],
    kernelRows,
  );
  for (const r of results.values()) if (r.error) log(`  ${r.id}: ERROR ${r.error.split('\n')[0]}`);

  log(`\nllama.cpp TQ2_0 (F16 head)${peerVersion ? `, node-llama-cpp ${peerVersion}` : ''}, every round:`);
  for (const l of llamaRounds)
    log(
      l.error
        ? `  r${l.round} ERROR ${l.error.split('\n')[0]}`
        : `  r${l.round}: decode ${f(l.decodeMedianMs, 1)} ms/token, prefill ${f(l.prefillTokPerS, 1)} tok/s (load1 ${f(l.load1Before, 2)})`,
    );
  if (llama)
    log(
      `  best: decode ${f(llama.decodeMs, 1)} ms/token (${f(1000 / llama.decodeMs, 2)} tok/s), prefill ${f(llama.prefillTokPerS, 1)} tok/s; ` +
        `median of rounds: ${f(llama.decodeMsMedian, 1)} ms/token, ${f(llama.prefillTokPerSMedian, 1)} tok/s`,
    );
  else
    log(
      `  not measured${peerError ? `: ${peerError.split('\n')[0]}` : opts['skip-llama'] ? ' (--skip-llama)' : ''}`,
    );

  log(
    `\n=== floors: ${DIMS.numLayers} layers × (qkv + o + gate|up + down) + head, from the min times; ` +
      `net = less one null-op run at M 1 (${f(results.get('null')?.byM[1]?.minMs, 3)} ms) per kernel call ===`,
  );
  log(
    `decode: ms per token; prefill: ms per ${PREFILL}-token prompt, tok/s = ${PREFILL} ÷ that; ÷ llama = floor tok/s ÷ llama.cpp's best round; ` +
      `budget = time left per token / prompt for everything else at the target`,
  );
  printTable(
    [
      'floor',
      'ms',
      'net ms',
      'tok/s (net)',
      'llama tok/s',
      '÷ llama net (raw)',
      'target',
      'budget ms',
      'verdict',
    ],
    floors.map((x) => [
      x.name,
      f(x.ms, 1),
      f(x.netMs, 1),
      f(x.netTokPerS, 1),
      f(x.llamaTokPerS, 1),
      `${f(x.ratio, 2)} (${f(x.rawRatio, 2)})`,
      x.target === undefined ? '—' : `≥ ${f(x.target, 2)}${x.targetNote ? ` ${x.targetNote}` : ''}`,
      f(x.budgetMs, 1),
      x.verdict ?? '—',
    ]),
  );
  log(`\nload average: start ${loadStart.join(' ')}, end ${loadEnd.join(' ')}`);
  if (loadStart[0] > QUIET_LOAD)
    log(
      `NOISY: the load average was ${loadStart[0]} before the bench started (above ${QUIET_LOAD}): other processes shared ` +
        `the cores, and llama.cpp's figures swing far more than the kernels' under load, so the ratios can be wrong ` +
        `either way; rerun on a quiet machine before quoting them`,
    );
  log(`results: ${path.relative(process.cwd(), RESULTS)}`);
}

function printTable(header: string[], rows: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ');
  log(line(header));
  for (const row of rows) log(line(row));
}

await main();
