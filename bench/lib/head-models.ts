/**
 * Head-only micro-benchmark: the 128256 × 2560 output projection (tied to the embedding) in the forms
 * onnxruntime-node could run it, so the lead can weigh a smaller/faster head against its effect on logits.
 * The weights are the synthetic checkpoint's real embedding tensor (bf16 → f32), so sizes and value
 * ranges match what the decode bench converts.
 *
 *   node --import tsx bench/lib/head-models.ts make '<json MakeArgs>'   writes every variant's model
 *   node --import tsx bench/lib/head-models.ts time '<json TimeArgs>'   times one variant at M = 1 and
 *                                                                       writes its logits for a probe
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, type WeightSpec } from '../../src/core/onnx/graph.ts';
import { externalWeightObject, graphSkeletonObject } from '../../src/core/onnx/model-proto.ts';
import { ModelProto } from '../../src/core/onnx/schema.ts';

export interface HeadVariant {
  name: string;
  describe: string;
}

export const HEAD_VARIANTS: HeadVariant[] = [
  { name: 'fp32-gemm', describe: 'FP32 Gemm transB=1 (what every format emits today)' },
  { name: 'fp32-matmul-kn', describe: 'FP32 MatMul, weight stored transposed [K, N]' },
  { name: 'int8-mmi', describe: 'int8 per-row weights, DynamicQuantizeLinear + MatMulInteger (std ONNX)' },
  { name: 'q8-b128', describe: 'MatMulNBits bits=8 block 128 accuracy_level 4' },
  { name: 'q8-b32', describe: 'MatMulNBits bits=8 block 32 accuracy_level 4' },
  { name: 'q4-b128', describe: 'MatMulNBits bits=4 block 128 accuracy_level 4' },
  { name: 'q4-b32', describe: 'MatMulNBits bits=4 block 32 accuracy_level 4' },
];

export interface MakeArgs {
  checkpoint: string;
  embedName: string;
  outDir: string;
  probeRows: number;
}

export interface TimeArgs {
  model: string;
  threads: number;
  xFile: string;
  k: number;
  n: number;
  minRuns: number;
  minSeconds: number;
  logitsFile: string;
  resultFile: string;
}

export interface HeadTimeResult {
  sessionSeconds: number;
  runsMs: number[];
  meanMs: number;
  medianMs: number;
}

/** Reads one BF16 tensor of a .safetensors file as float32. */
function readBf16Tensor(file: string, name: string): { data: Float32Array; shape: number[] } {
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const headerLen = Number(len.readBigUInt64LE(0));
    const header = Buffer.alloc(headerLen);
    readSync(fd, header, 0, headerLen, 8);
    const info = JSON.parse(header.toString('utf8'))[name] as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (!info || info.dtype !== 'BF16') throw new Error(`${name}: not a BF16 tensor in ${file}`);
    const [begin, end] = info.data_offsets;
    const out = new Float32Array((end - begin) / 2);
    const bits = new Uint32Array(out.buffer);
    const chunk = Buffer.alloc(64 << 20);
    for (let done = 0; done < end - begin;) {
      const n = readSync(
        fd,
        chunk,
        0,
        Math.min(chunk.length, end - begin - done),
        8 + headerLen + begin + done,
      );
      for (let i = 0; i < n; i += 2) bits[(done + i) >> 1] = chunk.readUInt16LE(i) << 16;
      done += n;
    }
    return { data: out, shape: info.shape };
  } finally {
    closeSync(fd);
  }
}

/** xorshift128+ → uniform [0, 1); deterministic. */
function prng(seed: number) {
  let a = seed >>> 0 || 1;
  let b = 0x9e3779b9;
  return () => {
    let t = a;
    const s = b;
    a = s;
    t ^= t << 11;
    t ^= t >>> 8;
    b = t ^ s ^ (s >>> 19);
    return ((b >>> 0) + 0.5) / 4294967296;
  };
}

/** Symmetric per-block quantisation along K to MatMulNBits' layout (default zero point 2^(bits-1)). */
function quantizeNBits(w: Float32Array, n: number, k: number, bits: 4 | 8, block: number) {
  const blocks = Math.ceil(k / block);
  const blob = (block * bits) / 8;
  const qmax = bits === 8 ? 127 : 7;
  const zp = 1 << (bits - 1);
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * k + b * block;
      const to = r * k + Math.min(k, (b + 1) * block);
      let amax = 0;
      for (let i = from; i < to; i++) amax = Math.max(amax, Math.abs(w[i]));
      const scale = amax / qmax || 1;
      scales[r * blocks + b] = scale;
      const base = (r * blocks + b) * blob;
      for (let i = from; i < to; i++) {
        const q = Math.max(-qmax, Math.min(qmax, Math.round(w[i] / scale))) + zp;
        const j = i - from;
        if (bits === 8) packed[base + j] = q;
        else packed[base + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
    }
  }
  return { packed, scales, blocks, blob };
}

interface Built {
  graph: GraphBuilder;
  data: Map<string, Uint8Array>;
}

function headGraph(variant: string, w: Float32Array, n: number, k: number): Built {
  const g = new GraphBuilder(`head_${variant.replace(/-/g, '_')}`);
  const data = new Map<string, Uint8Array>();
  const weight = (name: string, type: WeightSpec['type'], dims: number[], bytes: Uint8Array) => {
    data.set(name, bytes);
    return g.weight({ name, type, dims, byteLength: bytes.byteLength });
  };
  const bytesOf = (a: Float32Array | Int8Array | Uint8Array) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const x = g.input('x', 'float32', ['m', k]);
  let logits: string;
  if (variant === 'fp32-gemm') {
    logits = g.node('Gemm', [x, weight('W', 'float32', [n, k], bytesOf(w))], ['logits'], {
      transB: { i: 1 },
    })[0];
  } else if (variant === 'fp32-matmul-kn') {
    const t = new Float32Array(n * k);
    const tile = 64;
    for (let r0 = 0; r0 < n; r0 += tile)
      for (let c0 = 0; c0 < k; c0 += tile)
        for (let r = r0; r < Math.min(n, r0 + tile); r++)
          for (let c = c0; c < Math.min(k, c0 + tile); c++) t[c * n + r] = w[r * k + c];
    logits = g.node('MatMul', [x, weight('Wt', 'float32', [k, n], bytesOf(t))], ['logits'])[0];
  } else if (variant === 'int8-mmi') {
    const q = new Int8Array(k * n);
    const scales = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      let amax = 0;
      for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(w[r * k + c]));
      const s = amax / 127 || 1;
      scales[r] = s;
      for (let c = 0; c < k; c++) q[c * n + r] = Math.max(-127, Math.min(127, Math.round(w[r * k + c] / s)));
    }
    const [xq, xs, xzp] = g.node('DynamicQuantizeLinear', [x], 3);
    const acc = g.op('MatMulInteger', [xq, weight('Wq', 'int8', [k, n], bytesOf(q)), xzp]);
    const scaled = g.op('Mul', [g.op('Cast', [acc], { to: { i: 1 } }), xs]);
    logits = g.node('Mul', [scaled, weight('Wscale', 'float32', [n], bytesOf(scales))], ['logits'])[0];
  } else {
    const m = /^q(4|8)-b(\d+)$/.exec(variant);
    if (!m) throw new Error(`unknown head variant ${variant}`);
    const bits = Number(m[1]) as 4 | 8;
    const block = Number(m[2]);
    const q = quantizeNBits(w, n, k, bits, block);
    g.useOpset('com.microsoft', 1);
    const b = weight('Wq', 'uint8', [n, q.blocks, q.blob], q.packed);
    const s = weight('Wscale', 'float32', [n * q.blocks], bytesOf(q.scales));
    logits = g.node(
      'MatMulNBits',
      [x, b, s],
      ['logits'],
      {
        K: { i: k },
        N: { i: n },
        bits: { i: bits },
        block_size: { i: block },
        accuracy_level: { i: 4 },
      },
      'com.microsoft',
    )[0];
  }
  g.output(logits, 'float32', ['m', n]);
  return { graph: g, data };
}

/** Writes model.onnx + model.onnx_data (4096-aligned) for a built head graph. */
function writeHeadModel(dir: string, built: Built): number {
  mkdirSync(dir, { recursive: true });
  const dataName = 'model.onnx_data';
  const fd = openSync(path.join(dir, dataName), 'w');
  const initializers: object[] = [];
  let offset = 0;
  try {
    for (const w of built.graph.weights) {
      const bytes = built.data.get(w.name)!;
      initializers.push(externalWeightObject(w, dataName, offset));
      for (let done = 0; done < bytes.byteLength;)
        done += writeSync(fd, bytes, done, Math.min(1 << 30, bytes.byteLength - done), offset + done);
      offset = Math.ceil((offset + bytes.byteLength) / 4096) * 4096;
    }
  } finally {
    closeSync(fd);
  }
  const model = ModelProto.fromObject({
    ir_version: 8,
    producer_name: 'bitnet2onnx-bench',
    graph: graphSkeletonObject(built.graph, initializers),
    opset_import: built.graph.opsetImports(),
  });
  const encoded = ModelProto.encode(model).finish();
  writeFileSync(path.join(dir, 'model.onnx'), encoded);
  return offset + encoded.byteLength;
}

function make(a: MakeArgs): Record<string, { dir: string; bytes: number }> {
  const { data: w, shape } = readBf16Tensor(a.checkpoint, a.embedName);
  const [n, k] = shape;
  const rand = prng(7);
  const x = new Float32Array(a.probeRows * k);
  // Like the final RMSNorm's output: unit-variance values times norm weights in [0.5, 1.5].
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
    x[i] = g * (0.5 + rand());
  }
  mkdirSync(a.outDir, { recursive: true });
  writeFileSync(path.join(a.outDir, 'x.bin'), Buffer.from(x.buffer));
  const made: Record<string, { dir: string; bytes: number }> = {};
  for (const v of HEAD_VARIANTS) {
    const dir = path.join(a.outDir, v.name);
    made[v.name] = { dir, bytes: writeHeadModel(dir, headGraph(v.name, w, n, k)) };
  }
  writeFileSync(
    path.join(a.outDir, 'made.json'),
    JSON.stringify({ n, k, probeRows: a.probeRows, made }, null, 2),
  );
  return made;
}

async function time(a: TimeArgs): Promise<HeadTimeResult> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  const sessionSeconds = (performance.now() - t0) / 1000;
  const xAll = new Float32Array(readFileSync(a.xFile).buffer.slice(0));
  const one = new ort.Tensor('float32', xAll.subarray(0, a.k), [1, a.k]);
  for (let i = 0; i < 3; i++) await session.run({ x: one });
  const runsMs: number[] = [];
  const start = performance.now();
  while (runsMs.length < a.minRuns || performance.now() - start < a.minSeconds * 1000) {
    const t = performance.now();
    await session.run({ x: one });
    runsMs.push(performance.now() - t);
  }
  const probe = await session.run({ x: new ort.Tensor('float32', xAll, [xAll.length / a.k, a.k]) });
  const logits = probe.logits.data as Float32Array;
  writeFileSync(a.logitsFile, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
  await session.release();
  const sorted = [...runsMs].sort((p, q) => p - q);
  return {
    sessionSeconds,
    runsMs,
    meanMs: runsMs.reduce((p, q) => p + q, 0) / runsMs.length,
    medianMs: sorted[sorted.length >> 1],
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [mode, json] = process.argv.slice(2);
  if (mode === 'make') make(JSON.parse(json) as MakeArgs);
  else if (mode === 'time') {
    const args = JSON.parse(json) as TimeArgs;
    writeFileSync(args.resultFile, JSON.stringify(await time(args), null, 2));
  } else throw new Error(`usage: head-models.ts make|time '<json>'`);
}
