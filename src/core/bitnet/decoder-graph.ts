/**
 * The BitNet b1.58 decoder of docs/spec.md §2 as an ONNX graph with a KV cache. The weight format chooses
 * the style: 'portable' (plain opset 17, one product per projection; portable-decoder.ts) or
 * 'onnxruntime' (fused contrib operators and fused products, built for decode speed; fused-decoder.ts).
 * Both keep the same inputs and outputs, named as Optimum / transformers.js / onnxruntime-genai expect.
 */
import { GraphBuilder, type ElemType } from '../onnx/graph.ts';
import { elemBytes } from '../onnx/dtypes.ts';
import { formatModule } from '../formats/registry.ts';
import type { FormatOptions, GraphContext, QuantizedInput, WeightRole } from '../formats/format.ts';
import type { TensorInfo } from '../safetensors/checkpoint.ts';
import { defaultFormat } from '../formats/registry.ts';
import { pinnedBlocks } from '../formats/int2.ts';
import type { ModelPlan } from './model-plan.ts';
import { buildPortableLayers } from './portable-decoder.ts';
import { buildFusedLayers } from './fused-decoder.ts';

export type { WeightRole } from '../formats/format.ts';

export interface DecoderGraph {
  graph: GraphBuilder;
  roles: Map<string, WeightRole>;
}

/** Naming follows Optimum / transformers.js / onnxruntime-genai decoders (docs/spec.md §4). */
export const IO_NAMES = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  logits: 'logits',
  pastKey: (i: number) => `past_key_values.${i}.key`,
  pastValue: (i: number) => `past_key_values.${i}.value`,
  presentKey: (i: number) => `present.${i}.key`,
  presentValue: (i: number) => `present.${i}.value`,
};

/** Most negative float32: masked scores vanish in softmax without producing NaN on fully masked rows. */
const MASK_VALUE = -3.4028234663852886e38;

export interface StoredTable {
  stored: string;
  asFloat(value: string): string;
}

/** What both decoder styles share: the builder, the graph inputs and the per-model helpers. */
export interface DecoderParts extends GraphContext {
  plan: ModelPlan;
  inputIds: string;
  positionIds: string;
  /** Shape of input_ids, [B, S]. */
  idsShape: string;
  /** Additive attention bias [B, 1, 1, S, T] (docs/spec.md §2: causal and attention_mask). */
  maskBias: string;
  f32(v: number): string;
  i64s(v: number[]): string;
  floatWeight(t: TensorInfo, name?: string): string;
  /** An embedding-sized table in the chosen storage (--embed), and how to read it as float32. */
  table(t: TensorInfo, name: string): StoredTable;
  /** Per-token absmax int8 quantisation of x [T, K] (docs/spec.md §2), other forms built on demand. */
  quantize(x: string, features: number): QuantizedInput;
  /** y = acc · scale / s (or acc / (s · scale) for the divide rule), scale one value per output. */
  rescale(acc: string, input: QuantizedInput, scale: string): string;
  /** Declares the add-output KV cache I/O of layer i; returns [pastK, pastV]. */
  cacheInputs(i: number): [string, string];
}

export function buildDecoderGraph(
  plan: ModelPlan,
  format: FormatOptions = defaultFormat('fp32'),
): DecoderGraph {
  const g = new GraphBuilder('bitnet_b158_decoder');
  const roles = new Map<string, WeightRole>();
  const { dims } = plan;
  const weight = (name: string, type: ElemType, dimsOf: number[], role: WeightRole): string => {
    const bytes = dimsOf.reduce((a, b) => a * b, 1) * elemBytes(type);
    roles.set(name, role);
    return g.weight({ name, type, dims: dimsOf, byteLength: bytes });
  };
  const f32 = (v: number) => g.constant('float32', [], [v]);
  const i64s = (v: number[]) => g.constant('int64', [v.length], v);
  const KV = dims.numKvHeads;
  const hd = dims.headDim;

  const inputIds = g.input(IO_NAMES.inputIds, 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input(IO_NAMES.attentionMask, 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input(IO_NAMES.positionIds, 'int64', ['batch_size', 'sequence_length']);
  const idsShape = g.op('Shape', [inputIds]);

  const parts: DecoderParts = {
    g,
    options: format,
    weight,
    plan,
    inputIds,
    positionIds,
    idsShape,
    maskBias: attentionBias(g, attentionMask, idsShape),
    f32,
    i64s,
    floatWeight: (t, name = t.name) => weight(name, 'float32', t.shape, { kind: 'float', tensor: t }),
    table: (t, name) => {
      if (format.embed === 'fp32') return { stored: parts.floatWeight(t, name), asFloat: (v) => v };
      const stored = weight(name, 'float16', t.shape, { kind: 'float', tensor: t, as: 'float16' });
      return { stored, asFloat: (v) => g.op('Cast', [v], { to: { i: 1 } }) };
    },
    quantize: (x, features) => quantize(g, f32, i64s, x, features),
    rescale: (acc, input, scale) =>
      plan.scaleRule === 'multiply'
        ? g.op('Div', [g.op('Mul', [acc, scale]), input.s])
        : g.op('Div', [acc, g.op('Mul', [input.s, scale])]),
    cacheInputs: (i) => [
      g.input(IO_NAMES.pastKey(i), 'float32', ['batch_size', KV, 'past_sequence_length', hd]),
      g.input(IO_NAMES.pastValue(i), 'float32', ['batch_size', KV, 'past_sequence_length', hd]),
    ],
  };
  const logits2d =
    formatModule(format.weights).graphStyle === 'portable'
      ? buildPortableLayers(parts)
      : buildFusedLayers(parts);
  const logitsShape = g.op('Concat', [idsShape, i64s([dims.vocabSize])], { axis: { i: 0 } });
  g.node('Reshape', [logits2d, logitsShape], [IO_NAMES.logits]);
  g.output(IO_NAMES.logits, 'float32', ['batch_size', 'sequence_length', dims.vocabSize]);
  return { graph: g, roles };
}

/** Declares present.{i}.key|value as graph outputs: the cache with this call's keys/values appended. */
export function cacheOutputs(p: DecoderParts, i: number, k: string, v: string, pastK: string, pastV: string) {
  const { g } = p;
  const { numKvHeads: KV, headDim: hd } = p.plan.dims;
  const presentK = g.node('Concat', [pastK, k], [IO_NAMES.presentKey(i)], { axis: { i: 2 } })[0];
  const presentV = g.node('Concat', [pastV, v], [IO_NAMES.presentValue(i)], { axis: { i: 2 } })[0];
  g.output(presentK, 'float32', ['batch_size', KV, 'total_sequence_length', hd]);
  g.output(presentV, 'float32', ['batch_size', KV, 'total_sequence_length', hd]);
  return { presentK, presentV };
}

/**
 * softmax(q·kᵀ / sqrt(head_dim) + bias) · v with grouped-query attention and no copy of the cache:
 * query heads grouped [B, KV, nRep, S, hd] broadcast against keys/values [B, KV, 1, T, hd]; query head
 * h reads kv head h / nRep. Returns [B, KV, nRep, S, hd].
 */
export function groupedAttention(
  p: DecoderParts,
  qGrouped: string,
  presentK: string,
  presentV: string,
): string {
  const { g, i64s, f32 } = p;
  const kT = g.op('Transpose', [g.op('Unsqueeze', [presentK, i64s([2])])], {
    perm: { ints: [0, 1, 2, 4, 3] },
  });
  const sqrtHeadDim = f32(Math.fround(Math.sqrt(p.plan.dims.headDim)));
  const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [qGrouped, kT]), sqrtHeadDim]), p.maskBias]);
  const probs = g.op('Softmax', [scores], { axis: { i: -1 } });
  return g.op('MatMul', [probs, g.op('Unsqueeze', [presentV, i64s([2])])]);
}

/** float32 inverse frequencies of rotate_half RoPE, computed as the reference does (docs/spec.md §2). */
export function ropeInverseFrequencies(theta: number, hd: number): number[] {
  const invFreq: number[] = [];
  for (let i = 0; i < hd; i += 2) invFreq.push(Math.fround(1 / Math.fround(theta ** Math.fround(i / hd))));
  return invFreq;
}

function quantize(
  g: GraphBuilder,
  f32: (v: number) => string,
  i64s: (v: number[]) => string,
  x: string,
  features: number,
): QuantizedInput {
  const absMax = g.op('ReduceMax', [g.op('Abs', [x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
  const clamped = g.op('Max', [absMax, f32(1e-5)]);
  const s = g.op('Div', [f32(127), clamped]);
  // |x · s| ≤ 127 up to one rounding of the product, so round() already lands in [-127, 127]: the
  // spec's clip to [-128, 127] can never act and is left out.
  const round = (v: string) => g.op('Round', [g.op('Mul', [v, s])]);
  let xq: string | undefined;
  const quantized = () => (xq ??= round(x));
  let unsigned: string | undefined;
  const pinned = new Map<number, string>();
  return {
    get xq() {
      return quantized();
    },
    s,
    unsigned() {
      return (unsigned ??= g.op('Cast', [g.op('Add', [this.xq, f32(128)])], { to: { i: 2 } }));
    },
    pinned: (bs) => {
      let value = pinned.get(bs);
      if (value === undefined) {
        // The fused graphs quantise [B, S, features].
        value = pinLayout(g, quantized(), features, bs, 3);
        pinned.set(bs, value);
      }
      return value;
    },
  };
}

/**
 * [..., K] → [..., blocks · bs]: the K quantised values in groups of bs − 1 (the last group padded with
 * zeros), each group followed by the pin 127 (docs/spec.md §7). Pad, Reshape, Pad, Reshape: copies of whole
 * rows, where one Gather with an index per element measured several times slower.
 */
export function pinLayout(g: GraphBuilder, xq: string, K: number, bs: number, rank: number): string {
  const per = bs - 1;
  const blocks = pinnedBlocks(K, bs);
  const lead = new Array<number>(rank - 1).fill(0);
  const padEnd = (r: number, n: number) => {
    const pads = new Array<number>(2 * r).fill(0);
    pads[2 * r - 1] = n;
    return g.constant('int64', [2 * r], pads);
  };
  const filled = blocks * per > K ? g.op('Pad', [xq, padEnd(rank, blocks * per - K)]) : xq;
  const groups = g.op('Reshape', [filled, g.constant('int64', [rank + 1], [...lead, blocks, per])]);
  const pinnedGroups = g.op('Pad', [groups, padEnd(rank + 1, 1), g.constant('float32', [], [127])]);
  return g.op('Reshape', [pinnedGroups, g.constant('int64', [rank], [...lead, blocks * bs])]);
}

/**
 * Additive attention bias [B, 1, 1, S, T]: 0 where key j is visible to query i (j ≤ past + i and
 * attention_mask[b, j] = 1), the most negative float elsewhere.
 */
function attentionBias(g: GraphBuilder, attentionMask: string, idsShape: string): string {
  const zero = g.constant('int64', [], [0]);
  const one = g.constant('int64', [], [1]);
  const total = g.op('Gather', [g.op('Shape', [attentionMask]), one]);
  const seq = g.op('Gather', [idsShape, one]);
  const past = g.op('Sub', [total, seq]);
  const keyPos = g.op('Unsqueeze', [g.op('Range', [zero, total, one]), g.constant('int64', [1], [0])]);
  const queryPos = g.op('Unsqueeze', [g.op('Range', [past, total, one]), g.constant('int64', [1], [1])]);
  const causal = g.op('LessOrEqual', [keyPos, queryPos]);
  const padding = g.op('Unsqueeze', [
    g.op('Cast', [attentionMask], { to: { i: 9 } }),
    g.constant('int64', [3], [1, 2, 3]),
  ]);
  const visible = g.op('And', [causal, padding]);
  return g.op('Where', [visible, g.constant('float32', [], [0]), g.constant('float32', [], [MASK_VALUE])]);
}
