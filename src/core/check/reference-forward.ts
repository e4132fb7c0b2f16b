/**
 * An independent reference forward pass of a BitNet b1.58 decoder, written from docs/spec.md §2 and kept
 * deliberately plain: the converted ONNX model's logits are checked against it, so it must not share
 * code with the graph builder. Arithmetic is float32 (see reference-math.ts for the exact rules).
 *
 * Batch 1, causal. Tokens attend to every earlier token of the same call (and of earlier calls on the
 * same decoder); positions only choose RoPE angles, they never change which tokens are visible.
 */
import type { BitNetDims } from '../bitnet/dims.ts';
import { projectionShape, type ProjectionName } from '../bitnet/dims.ts';
import { validateReferenceWeights, validateTokens } from './reference-input.ts';
import type { ReferenceLayer, ReferenceWeights } from './reference-input.ts';
import {
  addInPlace,
  applyRopeInPlace,
  dotF32,
  kvHeadFor,
  projectRowsF32,
  quantizeRows,
  relu2Gate,
  rmsNorm,
  ropeAngles,
  ropeInverseFrequencies,
  softmaxInPlace,
  ternaryProject,
  type QuantizedRows,
  type RopeAngles,
} from './reference-math.ts';

export type { ReferenceLayer, ReferenceProjection, ReferenceWeights } from './reference-input.ts';
export { quantizeActivations, roundHalfEven } from './reference-math.ts';

const f32 = Math.fround;

/** Keys (after RoPE) and values of every token seen so far by one layer: one [numKvHeads · headDim] row each. */
interface LayerCache {
  keys: Float32Array[];
  values: Float32Array[];
}

/**
 * A decoder with a KV cache, so greedy generation costs one token per step. Feeding a sequence in one
 * call or in pieces gives bit-identical results: every per-token computation is independent of the
 * others, and attention reads the same cached keys and values either way.
 */
export class ReferenceDecoder {
  private readonly dims: BitNetDims;
  private readonly weights: ReferenceWeights;
  private readonly invFreq: Float32Array;
  private readonly caches: LayerCache[];
  private seen = 0;

  constructor(dims: BitNetDims, weights: ReferenceWeights) {
    validateReferenceWeights(dims, weights);
    this.dims = dims;
    this.weights = weights;
    this.invFreq = ropeInverseFrequencies(dims.headDim, dims.ropeTheta);
    this.caches = weights.layers.map(() => ({ keys: [], values: [] }));
  }

  /** Smallest distance of any quantised x·s to a rounding boundary so far (see reference-math). */
  minTieMargin = Infinity;

  /** Number of tokens fed so far. */
  get length(): number {
    return this.seen;
  }

  /**
   * Feeds tokens after those already seen and returns their final-normed hidden states [S, hidden].
   * positions default to continuing from the number of tokens already seen.
   */
  append(ids: readonly number[], positions?: readonly number[]): Float32Array {
    const d = this.dims;
    const pos = positions ?? ids.map((_, i) => this.length + i);
    validateTokens(d, ids, pos);
    const rows = ids.length;
    const h = embedRows(this.weights.embed, ids, d.hiddenSize);
    const angles = pos.map((p) => ropeAngles(p, this.invFreq));
    const quantize = (x: Float32Array, n: number) => {
      const q = quantizeRows(x, rows, n);
      this.minTieMargin = Math.min(this.minTieMargin, q.tieMargin);
      return q;
    };
    this.weights.layers.forEach((layer, i) =>
      decoderLayer(d, layer, this.caches[i], h, rows, angles, quantize),
    );
    this.seen += rows;
    return rmsNorm(h, rows, d.hiddenSize, this.weights.finalNorm, d.rmsNormEps);
  }

  /** Logits [rows, vocab] of final-normed hidden states: W = lmHead ?? embed, float32, not quantised. */
  logits(normed: Float32Array, rows: number): Float32Array {
    const d = this.dims;
    const w = this.weights.lmHead ?? this.weights.embed;
    return projectRowsF32(normed, rows, d.hiddenSize, w, d.vocabSize);
  }
}

function embedRows(embed: Float32Array, ids: readonly number[], hidden: number): Float32Array {
  const h = new Float32Array(ids.length * hidden);
  ids.forEach((id, r) => h.set(embed.subarray(id * hidden, (id + 1) * hidden), r * hidden));
  return h;
}

function project(d: BitNetDims, layer: ReferenceLayer, name: ProjectionName, q: QuantizedRows): Float32Array {
  return ternaryProject(q, layer.proj[name], projectionShape(d, name)[0]);
}

/** One decoder layer on h [rows, hidden], updated in place; appends the rows' keys and values to `cache`. */
function decoderLayer(
  d: BitNetDims,
  layer: ReferenceLayer,
  cache: LayerCache,
  h: Float32Array,
  rows: number,
  angles: RopeAngles[],
  quantize: (x: Float32Array, n: number) => QuantizedRows,
): void {
  const hidden = d.hiddenSize;
  const attnWidth = d.numHeads * d.headDim;

  // q, k and v quantise the same normed input, so it is quantised once (the rule is per token).
  const a = quantize(rmsNorm(h, rows, hidden, layer.inputNorm, d.rmsNormEps), hidden);
  const q = project(d, layer, 'q_proj', a);
  const k = project(d, layer, 'k_proj', a);
  const v = project(d, layer, 'v_proj', a);
  rotateHeads(q, rows, d.numHeads, d.headDim, angles);
  rotateHeads(k, rows, d.numKvHeads, d.headDim, angles);
  const firstRow = cache.keys.length;
  const kvWidth = d.numKvHeads * d.headDim;
  for (let r = 0; r < rows; r++) {
    cache.keys.push(k.slice(r * kvWidth, (r + 1) * kvWidth));
    cache.values.push(v.slice(r * kvWidth, (r + 1) * kvWidth));
  }
  const o = causalAttention(d, q, rows, cache, firstRow);
  const oNormed = rmsNorm(o, rows, attnWidth, layer.attnSubNorm, d.rmsNormEps);
  addInPlace(h, project(d, layer, 'o_proj', quantize(oNormed, attnWidth)));

  const m = quantize(rmsNorm(h, rows, hidden, layer.postAttnNorm, d.rmsNormEps), hidden);
  const gated = relu2Gate(project(d, layer, 'gate_proj', m), project(d, layer, 'up_proj', m));
  const f = rmsNorm(gated, rows, d.intermediateSize, layer.ffnSubNorm, d.rmsNormEps);
  addInPlace(h, project(d, layer, 'down_proj', quantize(f, d.intermediateSize)));
}

/** Applies RoPE to every head of x [rows, heads · headDim], row r at angles[r]. */
function rotateHeads(
  x: Float32Array,
  rows: number,
  heads: number,
  headDim: number,
  angles: RopeAngles[],
): void {
  for (let r = 0; r < rows; r++) {
    for (let hd = 0; hd < heads; hd++) applyRopeInPlace(x, (r * heads + hd) * headDim, angles[r]);
  }
}

/**
 * softmax(q·kᵀ / sqrt(head_dim)) · v for rows whose own keys are already cached; row r (cache index
 * firstRow + r) sees cache entries 0..firstRow + r. Returns the concatenated heads [rows, heads · headDim].
 */
function causalAttention(
  d: BitNetDims,
  q: Float32Array,
  rows: number,
  cache: LayerCache,
  firstRow: number,
): Float32Array {
  const { numHeads, numKvHeads, headDim } = d;
  const width = numHeads * headDim;
  const sqrtHeadDim = f32(Math.sqrt(headDim));
  const out = new Float32Array(rows * width);
  const scores = new Float32Array(cache.keys.length);
  const acc = new Float64Array(headDim);
  for (let r = 0; r < rows; r++) {
    const visible = firstRow + r + 1;
    for (let head = 0; head < numHeads; head++) {
      const qOff = r * width + head * headDim;
      const kvOff = kvHeadFor(head, numHeads, numKvHeads) * headDim;
      for (let j = 0; j < visible; j++) {
        scores[j] = f32(dotF32(q, qOff, cache.keys[j], kvOff, headDim) / sqrtHeadDim);
      }
      softmaxInPlace(scores, visible);
      // Weighted sum of values: exact float32 products, float64 sum, one rounding (as dotF32).
      acc.fill(0);
      for (let j = 0; j < visible; j++) {
        const p = scores[j];
        const vRow = cache.values[j];
        for (let i = 0; i < headDim; i++) acc[i] += p * vRow[kvOff + i];
      }
      for (let i = 0; i < headDim; i++) out[qOff + i] = f32(acc[i]);
    }
  }
  return out;
}

/**
 * Logits [S, vocab] (row-major) of one sequence, batch 1, causal. positions (default 0..S-1) set the
 * RoPE angles only.
 */
export function referenceForward(
  dims: BitNetDims,
  w: ReferenceWeights,
  ids: number[],
  opts?: { positions?: number[] },
): Float32Array {
  return referenceForwardWithMargin(dims, w, ids, opts).logits;
}

/** referenceForward plus the smallest rounding-boundary distance met on the way (see reference-math). */
export function referenceForwardWithMargin(
  dims: BitNetDims,
  w: ReferenceWeights,
  ids: number[],
  opts?: { positions?: number[] },
): { logits: Float32Array; minTieMargin: number } {
  const decoder = new ReferenceDecoder(dims, w);
  const normed = decoder.append(ids, opts?.positions);
  return { logits: decoder.logits(normed, ids.length), minTieMargin: decoder.minTieMargin };
}

/**
 * Index of the largest value in row `row` of logits [rows, vocab]; the first one wins a tie, as with
 * torch.argmax. A NaN means broken weights, never a token, so it throws.
 */
export function argmaxRow(logits: Float32Array, row: number, vocab: number): number {
  const off = row * vocab;
  let best = 0;
  for (let v = 0; v < vocab; v++) {
    const x = logits[off + v];
    if (Number.isNaN(x)) throw new Error(`reference logit ${v} of row ${row} is NaN`);
    if (x > logits[off + best]) best = v;
  }
  return best;
}

/**
 * Greedy decoding: feeds `prompt` (positions 0..), then `steps` times appends the argmax of the last
 * logits. Returns only the `steps` generated ids, not the prompt.
 */
export function greedyGenerate(
  dims: BitNetDims,
  w: ReferenceWeights,
  prompt: number[],
  steps: number,
): number[] {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`steps must be an integer ≥ 0, got ${steps}`);
  }
  const decoder = new ReferenceDecoder(dims, w);
  const out: number[] = [];
  let normed = decoder.append(prompt);
  let lastRow = prompt.length - 1;
  for (let step = 0; step < steps; step++) {
    // Only the last row's logits are needed: the full [S, vocab] projection is the costliest step.
    const last = normed.subarray(lastRow * dims.hiddenSize, (lastRow + 1) * dims.hiddenSize);
    const next = argmaxRow(decoder.logits(last, 1), 0, dims.vocabSize);
    out.push(next);
    if (step + 1 < steps) {
      normed = decoder.append([next]);
      lastRow = 0;
    }
  }
  return out;
}
