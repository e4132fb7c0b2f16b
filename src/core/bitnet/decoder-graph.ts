import { GraphBuilder, type ElemType } from '../onnx/graph.ts';
import type { TensorInfo } from '../safetensors/checkpoint.ts';
import { projectionTensorName } from './dims.ts';
import { defaultFormat, type FormatOptions } from './format.ts';
import type { ModelPlan, ProjectionSource } from './model-plan.ts';

/** What each large initializer is made from; the converter fills them in declaration order. */
export type WeightRole =
  | { kind: 'float'; tensor: TensorInfo; as?: 'float32' | 'float16' }
  | { kind: 'ternary-f32'; proj: ProjectionSource }
  | { kind: 'ternary-i8-transposed'; proj: ProjectionSource }
  | { kind: 'ternary-nbits2'; proj: ProjectionSource; blockSize: number }
  | { kind: 'ones'; count: number }
  | { kind: 'scale'; proj: ProjectionSource };

export interface DecoderGraph {
  graph: GraphBuilder;
  roles: Map<string, WeightRole>;
}

interface Quantized {
  xq: string;
  s: string;
  /** xq + 128 as uint8, built on first use. */
  xu: () => string;
}

const ELEMENT_BYTES: Record<ElemType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Most negative float32: masked scores vanish in softmax without producing NaN on fully masked rows. */
const MASK_VALUE = -3.4028234663852886e38;

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

/**
 * Builds the BitNet b1.58 decoder of docs/spec.md §2 with a KV cache, in opset 17 standard operators.
 * Activations stay 2-D ([tokens, features]) between attention blocks so every projection is one Gemm.
 */
export function buildDecoderGraph(
  plan: ModelPlan,
  format: FormatOptions = defaultFormat('fp32'),
): DecoderGraph {
  const g = new GraphBuilder('bitnet_b158_decoder');
  const roles = new Map<string, WeightRole>();
  const { dims } = plan;
  const H = dims.numHeads;
  const KV = dims.numKvHeads;
  const hd = dims.headDim;
  const nRep = H / KV;

  const weight = (name: string, type: ElemType, dimsOf: number[], role: WeightRole): string => {
    const bytes = dimsOf.reduce((a, b) => a * b, 1) * ELEMENT_BYTES[type];
    roles.set(name, role);
    return g.weight({ name, type, dims: dimsOf, byteLength: bytes });
  };
  const floatWeight = (t: TensorInfo, name = t.name) =>
    weight(name, 'float32', t.shape, { kind: 'float', tensor: t });
  /** Embedding-sized tensors in the chosen storage, as a float32 value for the graph. */
  const embedWeight = (t: TensorInfo, name: string) => {
    if (format.embed === 'fp32') return floatWeight(t, name);
    const stored = weight(name, 'float16', t.shape, { kind: 'float', tensor: t, as: 'float16' });
    return { stored, asFloat: () => g.op('Cast', [stored], { to: { i: 1 } }) };
  };
  const f32 = (v: number) => g.constant('float32', [], [v]);
  const i64s = (v: number[]) => g.constant('int64', [v.length], v);

  const inputIds = g.input(IO_NAMES.inputIds, 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input(IO_NAMES.attentionMask, 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input(IO_NAMES.positionIds, 'int64', ['batch_size', 'sequence_length']);

  // Shapes shared by every layer.
  const idsShape = g.op('Shape', [inputIds]);
  const embed = embedWeight(plan.embed, 'model.embed_tokens.weight');
  const embedded =
    typeof embed === 'string'
      ? g.op('Gather', [embed, inputIds])
      : g.op('Cast', [g.op('Gather', [embed.stored, inputIds])], { to: { i: 1 } });
  let h = g.op('Reshape', [embedded, i64s([-1, dims.hiddenSize])]);
  const qShape = g.op('Concat', [idsShape, i64s([H, hd])], { axis: { i: 0 } });
  const kvShape = g.op('Concat', [idsShape, i64s([KV, hd])], { axis: { i: 0 } });
  const { cos, sin } = rotaryTables(g, positionIds, dims.ropeTheta, hd);
  const maskBias = attentionBias(g, attentionMask, idsShape);
  const sqrtHeadDim = f32(Math.fround(Math.sqrt(hd)));
  const zeroPoint128 = g.constant('uint8', [], [128]);
  if (format.weights === 'int2') g.useOpset('com.microsoft', 1);

  const rmsNorm = (x: string, w: string) => {
    const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
    const denom = g.op('Sqrt', [g.op('Add', [meanSq, f32(dims.rmsNormEps)])]);
    return g.op('Mul', [g.op('Div', [x, denom]), w]);
  };
  const quantize = (x: string): Quantized => {
    const absMax = g.op('ReduceMax', [g.op('Abs', [x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
    const s = g.op('Div', [f32(127), g.op('Max', [absMax, f32(1e-5)])]);
    const xq = g.op('Clip', [g.op('Round', [g.op('Mul', [x, s])]), f32(-128), f32(127)]);
    let unsigned: string | undefined;
    // MatMulInteger takes uint8 activations: xq + 128 with zero point 128 (the form ORT's WASM kernels accept).
    const xu = () => (unsigned ??= g.op('Cast', [g.op('Add', [xq, f32(128)])], { to: { i: 2 } }));
    return { xq, s, xu };
  };
  const accumulate = (q: Quantized, p: ProjectionSource, base: string): string => {
    const [out, inp] = p.shape;
    switch (format.weights) {
      case 'fp32': {
        const w = weight(`${base}.weight`, 'float32', p.shape, { kind: 'ternary-f32', proj: p });
        return g.op('Gemm', [q.xq, w], { transB: { i: 1 } });
      }
      case 'int8': {
        const w = weight(`${base}.weight`, 'int8', [inp, out], { kind: 'ternary-i8-transposed', proj: p });
        return g.op('Cast', [g.op('MatMulInteger', [q.xu(), w, zeroPoint128])], { to: { i: 1 } });
      }
      case 'int2': {
        const bs = format.blockSize;
        const blocks = Math.ceil(inp / bs);
        const w = weight(`${base}.weight`, 'uint8', [out, blocks, bs / 4], {
          kind: 'ternary-nbits2',
          proj: p,
          blockSize: bs,
        });
        const ones = weight(`${base}.weight_block_scales`, 'float32', [out * blocks], {
          kind: 'ones',
          count: out * blocks,
        });
        const attrs = {
          K: { i: inp },
          N: { i: out },
          bits: { i: 2 },
          block_size: { i: bs },
          accuracy_level: { i: format.exact ? 0 : 4 },
        };
        return g.op('MatMulNBits', [q.xq, w, ones], attrs, 'com.microsoft');
      }
    }
  };
  const bitLinear = (q: Quantized, p: ProjectionSource) => {
    const base = projectionTensorName(p.layer, p.proj);
    const acc = accumulate(q, p, base);
    const scale = weight(`${base}.weight_scale`, 'float32', [1], { kind: 'scale', proj: p });
    return plan.scaleRule === 'multiply'
      ? g.op('Div', [g.op('Mul', [acc, scale]), q.s])
      : g.op('Div', [acc, g.op('Mul', [q.s, scale])]);
  };
  const rope = (x: string) => {
    const x1 = g.op('Slice', [x, i64s([0]), i64s([hd / 2]), i64s([-1])]);
    const x2 = g.op('Slice', [x, i64s([hd / 2]), i64s([hd]), i64s([-1])]);
    const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: { i: -1 } });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };
  const toHeads = (x: string, shape: string) =>
    g.op('Transpose', [g.op('Reshape', [x, shape])], { perm: { ints: [0, 2, 1, 3] } });

  plan.layers.forEach((layer, i) => {
    const a = quantize(rmsNorm(h, floatWeight(layer.inputNorm)));
    const q = rope(toHeads(bitLinear(a, layer.proj.q_proj), qShape));
    const k = rope(toHeads(bitLinear(a, layer.proj.k_proj), kvShape));
    const v = toHeads(bitLinear(a, layer.proj.v_proj), kvShape);
    const pastK = g.input(IO_NAMES.pastKey(i), 'float32', ['batch_size', KV, 'past_sequence_length', hd]);
    const pastV = g.input(IO_NAMES.pastValue(i), 'float32', ['batch_size', KV, 'past_sequence_length', hd]);
    const presentK = g.node('Concat', [pastK, k], [IO_NAMES.presentKey(i)], { axis: { i: 2 } })[0];
    const presentV = g.node('Concat', [pastV, v], [IO_NAMES.presentValue(i)], { axis: { i: 2 } })[0];
    g.output(presentK, 'float32', ['batch_size', KV, 'total_sequence_length', hd]);
    g.output(presentV, 'float32', ['batch_size', KV, 'total_sequence_length', hd]);

    // Grouped-query attention without copying the cache: query heads are grouped [B, KV, nRep, S, hd]
    // and broadcast against keys/values [B, KV, 1, T, hd]; query head h reads kv head h / nRep.
    const qGrouped = g.op('Reshape', [q, i64s([0, KV, nRep, -1, hd])]);
    const kT = g.op('Transpose', [g.op('Unsqueeze', [presentK, i64s([2])])], {
      perm: { ints: [0, 1, 2, 4, 3] },
    });
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [qGrouped, kT]), sqrtHeadDim]), maskBias]);
    const probs = g.op('Softmax', [scores], { axis: { i: -1 } });
    const ctx = g.op('MatMul', [probs, g.op('Unsqueeze', [presentV, i64s([2])])]);
    const merged = g.op('Transpose', [g.op('Reshape', [ctx, i64s([0, H, -1, hd])])], {
      perm: { ints: [0, 2, 1, 3] },
    });
    const attn = rmsNorm(g.op('Reshape', [merged, i64s([-1, H * hd])]), floatWeight(layer.attnSubNorm));
    h = g.op('Add', [h, bitLinear(quantize(attn), layer.proj.o_proj)]);

    const m = quantize(rmsNorm(h, floatWeight(layer.postAttnNorm)));
    const gate = g.op('Relu', [bitLinear(m, layer.proj.gate_proj)]);
    const ffn = g.op('Mul', [g.op('Mul', [gate, gate]), bitLinear(m, layer.proj.up_proj)]);
    const f = quantize(rmsNorm(ffn, floatWeight(layer.ffnSubNorm)));
    h = g.op('Add', [h, bitLinear(f, layer.proj.down_proj)]);
  });

  const final = rmsNorm(h, floatWeight(plan.finalNorm));
  const headWeight = plan.lmHead ? embedWeight(plan.lmHead, 'lm_head.weight') : embed;
  const head = typeof headWeight === 'string' ? headWeight : headWeight.asFloat();
  const logits2d = g.op('Gemm', [final, head], { transB: { i: 1 } });
  const logitsShape = g.op('Concat', [idsShape, i64s([dims.vocabSize])], { axis: { i: 0 } });
  g.node('Reshape', [logits2d, logitsShape], [IO_NAMES.logits]);
  g.output(IO_NAMES.logits, 'float32', ['batch_size', 'sequence_length', dims.vocabSize]);
  return { graph: g, roles };
}

/** cos/sin of rotate_half RoPE, [B, 1, S, headDim], from the caller's position_ids. */
function rotaryTables(g: GraphBuilder, positionIds: string, theta: number, hd: number) {
  const invFreq: number[] = [];
  for (let i = 0; i < hd; i += 2) invFreq.push(Math.fround(1 / Math.fround(theta ** Math.fround(i / hd))));
  const pos = g.op('Unsqueeze', [
    g.op('Cast', [positionIds], { to: { i: 1 } }),
    g.constant('int64', [1], [2]),
  ]);
  const freqs = g.op('Mul', [pos, g.constant('float32', [hd / 2], invFreq)]);
  const angles = g.op('Unsqueeze', [
    g.op('Concat', [freqs, freqs], { axis: { i: -1 } }),
    g.constant('int64', [1], [1]),
  ]);
  return { cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
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
