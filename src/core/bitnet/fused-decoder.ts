/**
 * The decoder built for decode speed in onnxruntime (int8 and int2): per layer, q|k|v is one product and
 * gate|up another (a per-output scale vector after each), residual adds are fused into the RMSNorms
 * (com.microsoft SkipSimplifiedLayerNormalization), RoPE is one com.microsoft RotaryEmbedding for q and
 * k together, and the head is either the exact float table or an 8- or 4-bit copy with exact re-scoring
 * of its top candidates. Same inputs, outputs and arithmetic as the portable graph (docs/spec.md §2), within
 * float32 rounding noise where a fused operator sums in another order.
 */
import type { TensorInfo } from '../safetensors/checkpoint.ts';
import { projectionTensorName, type ProjectionName } from './dims.ts';
import { formatModule } from '../formats/registry.ts';
import { outFeatures, type QuantizedInput } from '../formats/format.ts';
import { candidateHead, HEAD_CANDIDATES, type CandidateHead } from '../formats/head.ts';
import {
  cacheOutputs,
  groupedAttention,
  ropeInverseFrequencies,
  type DecoderParts,
  type StoredTable,
} from './decoder-graph.ts';
import type { LayerSources } from './model-plan.ts';

const MS = 'com.microsoft';

export function buildFusedLayers(p: DecoderParts): string {
  const { g, plan, i64s, floatWeight } = p;
  const { dims } = plan;
  const H = dims.numHeads;
  const KV = dims.numKvHeads;
  const hd = dims.headDim;
  const eps = dims.rmsNormEps;
  const format = formatModule(p.options.weights);
  g.useOpset(MS, 1);

  const embed = p.table(plan.embed, 'model.embed_tokens.weight');
  // The residual stream stays [B, S, hidden] throughout: no reshapes between layers.
  const embedded = embed.asFloat(g.op('Gather', [embed.stored, p.inputIds]));

  /** RMSNorm(x + skip); returns [normed, x + skip]. */
  const skipNorm = (x: string, skip: string, w: TensorInfo): [string, string] => {
    const [normed, , , sum] = g.node(
      'SkipSimplifiedLayerNormalization',
      [x, skip, floatWeight(w)],
      [true, false, false, true],
      { epsilon: { f: eps } },
      MS,
    );
    return [normed, sum];
  };
  /**
   * RMSNorm(x) as SkipSimplifiedLayerNormalization(x, x) with epsilon 4·eps: 2x / sqrt(mean(4x²) + 4 eps)
   * equals x / sqrt(mean(x²) + eps) bit for bit, since scaling by 2 and 4 is exact in binary floating point.
   */
  const norm = (x: string, w: TensorInfo) =>
    g.node(
      'SkipSimplifiedLayerNormalization',
      [x, x, floatWeight(w)],
      1,
      { epsilon: { f: Math.fround(4 * Math.fround(eps)) } },
      MS,
    )[0];
  const product = (q: QuantizedInput, layer: LayerSources, names: ProjectionName[], base: string) => {
    const group = names.map((n) => layer.proj[n]);
    const acc = format.accumulate(p, q, group, base);
    const scales = p.weight(`${base}.weight_scale`, 'float32', [outFeatures(group)], {
      kind: 'scales',
      group,
    });
    return p.rescale(acc, q, scales);
  };

  const cache = rotaryCache(p);

  let residual = embedded;
  let a = norm(embedded, plan.layers[0].inputNorm);
  plan.layers.forEach((layer, i) => {
    const prefix = `model.layers.${i}`;
    const qkv = product(
      p.quantize(a, dims.hiddenSize),
      layer,
      ['q_proj', 'k_proj', 'v_proj'],
      `${prefix}.self_attn.qkv_proj`,
    );
    // [B, S, (H + 2 KV)·hd] → [B, H + 2 KV, S, hd]: one transpose puts q, k and v in head-major layout;
    // k and v come out of the splits already shaped as the cache [B, KV, S, hd].
    const heads = g.op('Transpose', [g.op('Reshape', [qkv, i64s([0, 0, H + 2 * KV, hd])])], {
      perm: { ints: [0, 2, 1, 3] },
    });
    const [qk, v] = g.node('Split', [heads, i64s([H + KV, KV])], 2, { axis: { i: 1 } });
    const rotated = g.op(
      'RotaryEmbedding',
      [qk, p.positionIds, cache.cos, cache.sin],
      { interleaved: { i: 0 } },
      MS,
    );
    const [q, k] = g.node('Split', [rotated, i64s([H, KV])], 2, { axis: { i: 1 } });
    const [pastK, pastV] = p.cacheInputs(i);
    const { presentK, presentV } = cacheOutputs(p, i, k, v, pastK, pastV);
    // Query head h = kv · nRep + r reads kv head kv: [B, H, S, hd] is [B, KV, nRep, S, hd] as it lies.
    const qGrouped = g.op('Reshape', [q, i64s([0, KV, H / KV, -1, hd])]);
    const ctx = groupedAttention(p, qGrouped, presentK, presentV);
    const merged = g.op('Reshape', [
      g.op('Transpose', [ctx], { perm: { ints: [0, 3, 1, 2, 4] } }),
      i64s([0, 0, H * hd]),
    ]);
    const o = product(
      p.quantize(norm(merged, layer.attnSubNorm), H * hd),
      layer,
      ['o_proj'],
      projectionTensorName(i, 'o_proj'),
    );
    const [m, afterAttn] = skipNorm(o, residual, layer.postAttnNorm);

    const gateUp = product(
      p.quantize(m, dims.hiddenSize),
      layer,
      ['gate_proj', 'up_proj'],
      `${prefix}.mlp.gate_up_proj`,
    );
    const [gate, up] = g.node('Split', [gateUp, i64s([dims.intermediateSize, dims.intermediateSize])], 2, {
      axis: { i: -1 },
    });
    const relu = g.op('Relu', [gate]);
    const ffn = g.op('Mul', [g.op('Mul', [relu, relu]), up]);
    const down = product(
      p.quantize(norm(ffn, layer.ffnSubNorm), dims.intermediateSize),
      layer,
      ['down_proj'],
      projectionTensorName(i, 'down_proj'),
    );
    const next = plan.layers[i + 1]?.inputNorm ?? plan.finalNorm;
    [a, residual] = skipNorm(down, afterAttn, next);
  });
  // After the last layer, `a` is the final-normed hidden state; the heads take it as [B·S, hidden].
  const final = g.op('Reshape', [a, i64s([-1, dims.hiddenSize])]);
  const headTable = plan.lmHead ? p.table(plan.lmHead, 'lm_head.weight') : embed;
  const headSource = plan.lmHead ?? plan.embed;
  const candidates = candidateHead(p.options.head);
  if (!candidates) return exactHead(p, final, headTable);
  return rescoredHead(p, final, headSource, headTable, candidates);
}

/**
 * logits = final · tableᵀ in float32. The table reaches the Gemm through a Reshape to its own shape: for
 * tables above onnxruntime's 1 GiB constant-folding limit (the 2B-4T head is 1.31 GB) this keeps the
 * CPU provider from pre-packing a second, reformatted copy at session load, which measured 12–17 s of
 * load and +1.3 GB of memory for no gain at one token per step (the product reads the table once either
 * way). The Reshape output aliases the table; no bytes are copied per run.
 */
function exactHead(p: DecoderParts, final: string, table: StoredTable): string {
  const { g, i64s } = p;
  const { vocabSize, hiddenSize } = p.plan.dims;
  const unpacked = g.op('Reshape', [table.stored, i64s([vocabSize, hiddenSize])]);
  return g.op('Gemm', [final, table.asFloat(unpacked)], { transB: { i: 1 } });
}

/**
 * logits from an 8- or 4-bit blockwise copy of the head (MatMulNBits, accuracy_level 4), with the top
 * HEAD_CANDIDATES re-scored against the exact rows: a few hundred KB read per token instead of the whole
 * float table, and greedy / top-k choices are those of the exact head (docs/spec.md §8).
 */
function rescoredHead(
  p: DecoderParts,
  final: string,
  source: TensorInfo,
  exact: StoredTable,
  { bits, blockSize }: CandidateHead,
): string {
  const { g, i64s } = p;
  const { vocabSize: vocab, hiddenSize: hidden } = p.plan.dims;
  const blocks = Math.ceil(hidden / blockSize);
  const role = { kind: 'head-blocks', tensor: source, blockSize, bits } as const;
  const codes = p.weight(`lm_head.q${bits}.weight`, 'uint8', [vocab, blocks, (blockSize * bits) / 8], {
    ...role,
    part: 'codes',
  });
  const scales = p.weight(`lm_head.q${bits}.scales`, 'float32', [vocab * blocks], {
    ...role,
    part: 'scales',
  });
  const approx = g.op(
    'MatMulNBits',
    [final, codes, scales],
    {
      K: { i: hidden },
      N: { i: vocab },
      bits: { i: bits },
      block_size: { i: blockSize },
      accuracy_level: { i: 4 },
    },
    MS,
  );
  const k = Math.min(HEAD_CANDIDATES, vocab);
  const [, top] = g.node('TopK', [approx, i64s([k])], 2, {
    axis: { i: -1 },
    largest: { i: 1 },
    sorted: { i: 0 },
  });
  const rows = exact.asFloat(g.op('Gather', [exact.stored, top]));
  const rescored = g.op('Reshape', [
    g.op('MatMul', [rows, g.op('Unsqueeze', [final, i64s([2])])]),
    i64s([0, k]),
  ]);
  return g.op('ScatterElements', [approx, top, rescored], { axis: { i: 1 } });
}

/** cos/sin of every position up to max_position_embeddings, [positions, headDim/2], as the reference computes them. */
function rotaryCache(p: DecoderParts) {
  const { ropeTheta, headDim: hd, maxPositions } = p.plan.dims;
  const inv = ropeInverseFrequencies(ropeTheta, hd);
  const cos: number[] = new Array(maxPositions * inv.length);
  const sin: number[] = new Array(maxPositions * inv.length);
  for (let pos = 0; pos < maxPositions; pos++) {
    for (let i = 0; i < inv.length; i++) {
      const angle = Math.fround(Math.fround(pos) * inv[i]);
      cos[pos * inv.length + i] = Math.fround(Math.cos(angle));
      sin[pos * inv.length + i] = Math.fround(Math.sin(angle));
    }
  }
  return {
    cos: p.g.constant('float32', [maxPositions, inv.length], cos, 'rotary.cos_cache'),
    sin: p.g.constant('float32', [maxPositions, inv.length], sin, 'rotary.sin_cache'),
  };
}
