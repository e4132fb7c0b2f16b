/**
 * The portable decoder: default-domain opset 17 operators only, one product per projection, so every
 * runtime loads it (and the official checker accepts it). Activations stay 2-D [tokens, features]
 * between attention blocks so every projection is one Gemm.
 */
import { projectionTensorName } from './dims.ts';
import { formatModule } from '../formats/registry.ts';
import type { QuantizedInput } from '../formats/format.ts';
import {
  cacheOutputs,
  groupedAttention,
  ropeInverseFrequencies,
  type DecoderParts,
} from './decoder-graph.ts';
import type { ProjectionSource } from './model-plan.ts';

/** Adds the embedding, every layer and the final norm and head; returns logits [T, vocab]. */
export function buildPortableLayers(p: DecoderParts): string {
  const { g, plan, options, f32, i64s, floatWeight } = p;
  const { dims } = plan;
  const H = dims.numHeads;
  const KV = dims.numKvHeads;
  const hd = dims.headDim;
  const format = formatModule(options.weights);

  const embed = p.table(plan.embed, 'model.embed_tokens.weight');
  let h = g.op('Reshape', [
    embed.asFloat(g.op('Gather', [embed.stored, p.inputIds])),
    i64s([-1, dims.hiddenSize]),
  ]);
  const qShape = g.op('Concat', [p.idsShape, i64s([H, hd])], { axis: { i: 0 } });
  const kvShape = g.op('Concat', [p.idsShape, i64s([KV, hd])], { axis: { i: 0 } });
  const { cos, sin } = rotaryTables(p);

  const rmsNorm = (x: string, w: string) => {
    const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: { ints: [-1] }, keepdims: { i: 1 } });
    const denom = g.op('Sqrt', [g.op('Add', [meanSq, f32(dims.rmsNormEps)])]);
    return g.op('Mul', [g.op('Div', [x, denom]), w]);
  };
  const bitLinear = (q: QuantizedInput, proj: ProjectionSource) => {
    const base = projectionTensorName(proj.layer, proj.proj);
    const acc = format.accumulate(p, q, [proj], base);
    const scale = p.weight(`${base}.weight_scale`, 'float32', [1], { kind: 'scales', group: [proj] });
    return p.rescale(acc, q, scale);
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
    const a = p.quantize(rmsNorm(h, floatWeight(layer.inputNorm)), dims.hiddenSize);
    const q = rope(toHeads(bitLinear(a, layer.proj.q_proj), qShape));
    const k = rope(toHeads(bitLinear(a, layer.proj.k_proj), kvShape));
    const v = toHeads(bitLinear(a, layer.proj.v_proj), kvShape);
    const [pastK, pastV] = p.cacheInputs(i);
    const { presentK, presentV } = cacheOutputs(p, i, k, v, pastK, pastV);
    const qGrouped = g.op('Reshape', [q, i64s([0, KV, H / KV, -1, hd])]);
    const ctx = groupedAttention(p, qGrouped, presentK, presentV);
    const merged = g.op('Transpose', [g.op('Reshape', [ctx, i64s([0, H, -1, hd])])], {
      perm: { ints: [0, 2, 1, 3] },
    });
    const attn = rmsNorm(g.op('Reshape', [merged, i64s([-1, H * hd])]), floatWeight(layer.attnSubNorm));
    h = g.op('Add', [h, bitLinear(p.quantize(attn, H * hd), layer.proj.o_proj)]);

    const m = p.quantize(rmsNorm(h, floatWeight(layer.postAttnNorm)), dims.hiddenSize);
    const gate = g.op('Relu', [bitLinear(m, layer.proj.gate_proj)]);
    const ffn = g.op('Mul', [g.op('Mul', [gate, gate]), bitLinear(m, layer.proj.up_proj)]);
    const f = p.quantize(rmsNorm(ffn, floatWeight(layer.ffnSubNorm)), dims.intermediateSize);
    h = g.op('Add', [h, bitLinear(f, layer.proj.down_proj)]);
  });

  const final = rmsNorm(h, floatWeight(plan.finalNorm));
  const head = plan.lmHead ? p.table(plan.lmHead, 'lm_head.weight') : embed;
  return g.op('Gemm', [final, head.asFloat(head.stored)], { transB: { i: 1 } });
}

/** cos/sin of rotate_half RoPE, [B, 1, S, headDim], from the caller's position_ids. */
function rotaryTables(p: DecoderParts) {
  const { g } = p;
  const { ropeTheta, headDim: hd } = p.plan.dims;
  const pos = g.op('Unsqueeze', [
    g.op('Cast', [p.positionIds], { to: { i: 1 } }),
    g.constant('int64', [1], [2]),
  ]);
  const freqs = g.op('Mul', [pos, g.constant('float32', [hd / 2], ropeInverseFrequencies(ropeTheta, hd))]);
  const angles = g.op('Unsqueeze', [
    g.op('Concat', [freqs, freqs], { axis: { i: -1 } }),
    g.constant('int64', [1], [1]),
  ]);
  return { cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
}
