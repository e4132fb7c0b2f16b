/**
 * Will a converted model run in the tab? An estimate of the memory a backend of onnxruntime-web needs for
 * it, from the model's graph and initializer sizes alone (read with the header walker, no weight bytes),
 * so the page can say why before it loads gigabytes and fails after one or two tokens.
 *
 * The WASM backend is a 32-bit WebAssembly module: everything it holds lives in one heap of at most
 * 4 GiB. What it puts there (onnxruntime-web 1.30, CPU provider, graphOptimizationLevel 'all'):
 *
 * - every initializer, once (external data is read from the JS side into the heap, tensor by tensor);
 * - while the session is created, the `.onnx` file itself (copied in to be parsed) and, for inline
 *   weights, the parsed protobuf's copy of them;
 * - per call of a `MatMulNBits` product, its weights dequantised to float32 (K × N × 4 bytes: the WASM
 *   build has no low-bit kernels), the largest one at a time;
 * - activations and the KV cache, passed in and out at every step (small next to the weights for a
 *   short generation; counted for a nominal context).
 *
 * The WebGPU backend keeps weights in GPU buffers: a single initializer larger than the adapter's
 * largest buffer cannot be placed at all (SwiftShader: 1 GiB, the 2B-4T exact head is 1.31 GB).
 */
import type { ScannedModel } from '../onnx/proto-walker.ts';
import { dataTypeBytes, DataType } from '../onnx/dtypes.ts';
import type { OnnxTensor } from '../onnx/schema.ts';

export const GiB = 2 ** 30;

/** The WebAssembly heap a browser gives onnxruntime-web's 32-bit build: 65536 pages of 64 KiB. */
export const WASM_HEAP_LIMIT = 4 * GiB;

/**
 * Heap the runtime needs besides the model's own figures (its code's data, the allocator's arena slack
 * and fragmentation): a model whose estimate comes within this of the limit is refused too.
 */
export const WASM_HEAP_RESERVE = 256 * 2 ** 20;

/** Context length the activation and KV cache figure assumes (the person may ask for less or more). */
export const NOMINAL_CONTEXT = 1024;

export interface InitializerFacts {
  name: string;
  bytes: number;
  /** Stored in an external data file (else inside the `.onnx`). */
  external: boolean;
  float16: boolean;
}

/** A `MatMulNBits` product: the WASM backend dequantises its K × N weights to float32 on every call. */
export interface NBitsProduct {
  name: string;
  k: number;
  n: number;
  bits: number;
}

/** What the estimate needs to know about a model: sizes and shapes only. */
export interface ModelFacts {
  /** Bytes of the `.onnx` file itself (inline weights included, external data not). */
  fileBytes: number;
  initializers: InitializerFacts[];
  nBits: NBitsProduct[];
  /** The KV cache shape and vocabulary, when config.json gives them (for activation memory). */
  kv?: { layers: number; numKvHeads: number; headDim: number };
  vocabSize?: number;
}

/** Reads the facts from the graph the header walker decoded (`scanModel`): no weight bytes needed. */
export function modelFacts(scanned: ScannedModel, fileBytes: number): ModelFacts {
  const initializers: InitializerFacts[] = [];
  const nBits: NBitsProduct[] = [];
  for (const { graph, initializers: scannedInits } of scanned.graphs) {
    for (const { tensor, rawData } of scannedInits) {
      const external = tensor.data_location === 1 || (tensor.external_data?.length ?? 0) > 0;
      initializers.push({
        name: tensor.name ?? '',
        bytes: tensorBytes(
          tensor,
          rawData.reduce((n, r) => n + r.length, 0),
        ),
        external,
        float16: tensor.data_type === DataType.FLOAT16,
      });
    }
    for (const node of graph.node ?? []) {
      if (node.op_type !== 'MatMulNBits') continue;
      const attr = (name: string) => node.attribute?.find((a) => a.name === name)?.i ?? 0;
      nBits.push({
        name: node.name ?? node.output?.[0] ?? 'MatMulNBits',
        k: attr('K'),
        n: attr('N'),
        bits: attr('bits'),
      });
    }
  }
  const inputs = scanned.graphs[0]?.graph.input ?? [];
  const layers = inputs.filter((i) => /^past_key_values\.\d+\.key$/.test(i.name ?? '')).length;
  const dims = inputs.find((i) => i.name === 'past_key_values.0.key')?.type?.tensor_type?.shape?.dim;
  const kvHeads = dims?.[1]?.dim_value;
  const headDim = dims?.[3]?.dim_value;
  return {
    fileBytes,
    initializers,
    nBits,
    kv: layers > 0 && kvHeads && headDim ? { layers, numKvHeads: kvHeads, headDim } : undefined,
  };
}

function tensorBytes(tensor: OnnxTensor, rawBytes: number): number {
  if (rawBytes > 0) return rawBytes;
  const length = tensor.external_data?.find((e) => e.key === 'length')?.value;
  if (length !== undefined && /^\d+$/.test(length)) return Number(length);
  const each = dataTypeBytes(tensor.data_type ?? 0) ?? 0;
  return (tensor.dims ?? []).reduce((n, d) => n * d, 1) * each;
}

export type MemoryBackend = 'wasm' | 'webgpu';

/** What the backend offers, as far as the page can tell. */
export interface BackendLimits {
  /** WASM: the heap limit (default 4 GiB); a test may inject a smaller one. */
  wasmHeapBytes?: number;
  /** WebGPU: the adapter's largest buffer (min of maxBufferSize and maxStorageBufferBindingSize). */
  gpuMaxBufferBytes?: number;
}

export interface MemoryPart {
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  backend: MemoryBackend;
  /** Peak bytes the backend's limited memory must hold (WASM: the heap; WebGPU: the largest buffer). */
  needBytes: number;
  /** What it may hold; undefined when unknown (then it always "fits"). */
  limitBytes?: number;
  fits: boolean;
  /** The figures that add up to `needBytes`, largest first. */
  parts: MemoryPart[];
  /** One line for the page once loaded, e.g. "needs about 2.23 GiB of the 3.75 GiB of WebAssembly memory it may use". */
  note: string;
  /** When it does not fit: one sentence of what and why, and what to do instead. */
  why?: string;
  instead?: string;
}

/** The estimate for one backend; pure arithmetic over the facts. */
export function estimateMemory(
  facts: ModelFacts,
  backend: MemoryBackend,
  limits: BackendLimits = {},
): MemoryEstimate {
  return backend === 'wasm' ? estimateWasm(facts, limits) : estimateWebGpu(facts, limits);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function estimateWasm(facts: ModelFacts, limits: BackendLimits): MemoryEstimate {
  const weights = sum(facts.initializers.map((i) => i.bytes));
  const inline = sum(facts.initializers.filter((i) => !i.external).map((i) => i.bytes));
  const largest = facts.nBits.reduce<NBitsProduct | undefined>(
    (best, p) => (!best || p.k * p.n > best.k * best.n ? p : best),
    undefined,
  );
  const dequantised = largest ? largest.k * largest.n * 4 : 0;
  // Loading: the .onnx copied in to be parsed, and its inline weights parsed out of it, besides the tensors.
  const loading = facts.fileBytes + inline;
  const kv = facts.kv
    ? // past in and present out, float32, for the nominal context
      2 * 2 * facts.kv.layers * facts.kv.numKvHeads * facts.kv.headDim * NOMINAL_CONTEXT * 4
    : 0;
  const running = dequantised + kv;
  const parts: MemoryPart[] = [{ what: 'of weights', bytes: weights }];
  if (running >= loading) {
    if (dequantised > 0)
      parts.push({
        what: `to dequantise the ${largest!.bits}-bit ${largest!.n} × ${largest!.k} product to float32 on each call`,
        bytes: dequantised,
      });
    if (kv > 0) parts.push({ what: `of KV cache in and out (${NOMINAL_CONTEXT} tokens)`, bytes: kv });
  } else {
    parts.push({ what: 'for the .onnx file and its inline weights while loading', bytes: loading });
  }
  const needBytes = weights + Math.max(running, loading);
  const heap = limits.wasmHeapBytes ?? WASM_HEAP_LIMIT;
  const limitBytes = Math.max(0, heap - Math.min(WASM_HEAP_RESERVE, heap / 16));
  const fits = needBytes <= limitBytes;
  const note = `needs about ${formatMemory(needBytes)} of the ${formatMemory(limitBytes)} of WebAssembly memory it may use`;
  const estimate: MemoryEstimate = { backend: 'wasm', needBytes, limitBytes, fits, parts, note };
  if (fits) return estimate;
  // Without its per-call float32 copy the model would fit: that copy is the thing to avoid.
  const dequantisedIsWhy = dequantised > 0 && weights + Math.max(kv, loading) <= limitBytes;
  return {
    ...estimate,
    why: `it needs about ${formatMemory(needBytes)} of WebAssembly memory (${parts
      .map((p) => `${formatMemory(p.bytes)} ${p.what}`)
      .join(
        ' + ',
      )}), more than the ${formatMemory(limitBytes)} the WASM backend can use of its ${formatMemory(heap)} heap`,
    instead: dequantisedIsWhy
      ? `Use a conversion with the exact head (the default, without --head q8 or q4: int2 or int8), or WebGPU: this backend dequantises the ${largest!.bits}-bit head to float32 on every token.`
      : facts.nBits.some((p) => p.bits === 2)
        ? 'This is already the smallest conversion (int2): use WebGPU if this browser has it.'
        : 'Use the int2 conversion (model_q2.onnx, the smallest), or WebGPU if this browser has it.',
  };
}

function estimateWebGpu(facts: ModelFacts, limits: BackendLimits): MemoryEstimate {
  const largest = facts.initializers.reduce<InitializerFacts | undefined>(
    (best, i) => (!best || i.bytes > best.bytes ? i : best),
    undefined,
  );
  const needBytes = largest?.bytes ?? 0;
  const limitBytes = limits.gpuMaxBufferBytes;
  const parts: MemoryPart[] = largest
    ? [{ what: `the largest weight (${largest.name})`, bytes: needBytes }]
    : [];
  const tooLarge = limitBytes !== undefined && needBytes > limitBytes;
  const note =
    `largest weight ${formatMemory(needBytes)}` +
    (limitBytes !== undefined ? `; this GPU allows ${formatMemory(limitBytes)} per buffer` : '');
  const estimate: MemoryEstimate = { backend: 'webgpu', needBytes, limitBytes, fits: !tooLarge, parts, note };
  if (!tooLarge) return estimate;
  return {
    ...estimate,
    why: `its largest weight, ${largest!.name} (${formatMemory(needBytes)}), is larger than the largest buffer this GPU allows (${formatMemory(limitBytes!)})`,
    instead:
      largest!.name.includes('embed') || largest!.name.includes('lm_head')
        ? 'Use the WASM backend, or convert with --head q8 or q4 (a blockwise head and a float16 table, each under 1 GiB for the 2B model).'
        : 'Use the WASM backend.',
  };
}

/** Binary units, as the heap limit is one (4 GiB): "3.46 GiB", "870 MiB", "95 KiB", "512 B". */
export function formatMemory(bytes: number): string {
  const units: [number, string][] = [
    [GiB, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) {
      const v = bytes / size;
      return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
    }
  }
  return `${Math.round(bytes)} B`;
}
