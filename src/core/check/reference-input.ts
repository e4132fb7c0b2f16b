/**
 * The weights the reference forward pass consumes, and the checks that they fit the dims. A reference
 * that silently read past a short array (typed arrays yield `undefined` → NaN) or accepted a ternary
 * value of 2 would "confirm" a broken conversion, so every shape and value is checked up front.
 */
import { PROJECTIONS, projectionShape, projectionTensorName } from '../bitnet/dims.ts';
import type { BitNetDims, ProjectionName } from '../bitnet/dims.ts';
import { ConversionError } from '../errors.ts';
import type { ReferenceProjection } from './reference-math.ts';

export type { ReferenceProjection } from './reference-math.ts';

export interface ReferenceLayer {
  /** input_layernorm, [hidden]. */
  inputNorm: Float32Array;
  /** post_attention_layernorm, [hidden]. */
  postAttnNorm: Float32Array;
  /** attn_sub_norm, [numHeads · headDim] (the concatenated heads it normalises). */
  attnSubNorm: Float32Array;
  /** ffn_sub_norm, [intermediate]. */
  ffnSubNorm: Float32Array;
  proj: Record<ProjectionName, ReferenceProjection>;
}

export interface ReferenceWeights {
  /** model.embed_tokens.weight, [vocab, hidden]. */
  embed: Float32Array;
  /** lm_head.weight, [vocab, hidden]; absent = tied to `embed`. */
  lmHead?: Float32Array;
  /** model.norm.weight, [hidden]. */
  finalNorm: Float32Array;
  layers: ReferenceLayer[];
}

function fail(problem: string, tensor: string | undefined, expected: string, found: string): never {
  throw new ConversionError(problem, { tensor, expected, found });
}

function isPositiveInt(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

export function validateReferenceDims(d: BitNetDims): void {
  const sizes = ['hiddenSize', 'intermediateSize', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize'] as const;
  for (const key of sizes) {
    if (!isPositiveInt(d[key]))
      fail(`reference dims: bad ${key}`, undefined, 'a positive integer', `${d[key]}`);
  }
  if (!Number.isInteger(d.numLayers) || d.numLayers < 0) {
    fail('reference dims: bad numLayers', undefined, 'a non-negative integer', `${d.numLayers}`);
  }
  if (d.numHeads % d.numKvHeads !== 0) {
    fail(
      'reference dims: heads do not group',
      undefined,
      'numHeads a multiple of numKvHeads',
      `${d.numHeads}/${d.numKvHeads}`,
    );
  }
  if (d.headDim % 2 !== 0)
    fail('reference dims: RoPE needs an even head_dim', undefined, 'even', `${d.headDim}`);
  if (!(d.ropeTheta > 0) || !(d.rmsNormEps >= 0)) {
    fail(
      'reference dims: bad rope_theta or rms_norm_eps',
      undefined,
      'theta > 0, eps ≥ 0',
      `${d.ropeTheta}, ${d.rmsNormEps}`,
    );
  }
}

function checkLength(a: Float32Array | Int8Array | undefined, length: number, tensor: string): void {
  if (!a || a.length !== length)
    fail('reference weights: wrong size', tensor, `${length} values`, `${a?.length ?? 'none'}`);
}

function checkProjection(p: ReferenceProjection | undefined, out: number, inF: number, tensor: string): void {
  if (!p) fail('reference weights: missing projection', tensor, 'a ternary projection', 'none');
  checkLength(p.ternary, out * inF, `${tensor}.weight`);
  for (let i = 0; i < p.ternary.length; i++) {
    const t = p.ternary[i];
    if (t !== -1 && t !== 0 && t !== 1) {
      fail('reference weights: not ternary', `${tensor}.weight`, '-1, 0 or 1', `${t} at index ${i}`);
    }
  }
  if (!Number.isFinite(p.scale))
    fail('reference weights: bad scale', `${tensor}.weight_scale`, 'finite', `${p.scale}`);
  if (p.rule !== 'multiply' && p.rule !== 'divide') {
    fail('reference weights: bad scale rule', tensor, "'multiply' or 'divide'", `${p.rule}`);
  }
}

function checkLayer(d: BitNetDims, layer: ReferenceLayer | undefined, i: number): void {
  const prefix = `model.layers.${i}`;
  if (!layer) fail('reference weights: missing layer', prefix, 'a layer', 'none');
  checkLength(layer.inputNorm, d.hiddenSize, `${prefix}.input_layernorm.weight`);
  checkLength(layer.postAttnNorm, d.hiddenSize, `${prefix}.post_attention_layernorm.weight`);
  checkLength(layer.attnSubNorm, d.numHeads * d.headDim, `${prefix}.self_attn.attn_sub_norm.weight`);
  checkLength(layer.ffnSubNorm, d.intermediateSize, `${prefix}.mlp.ffn_sub_norm.weight`);
  for (const name of PROJECTIONS) {
    const [out, inF] = projectionShape(d, name);
    checkProjection(layer.proj?.[name], out, inF, projectionTensorName(i, name));
  }
}

/** Throws a ConversionError naming the first tensor that does not fit `d`. */
export function validateReferenceWeights(d: BitNetDims, w: ReferenceWeights): void {
  validateReferenceDims(d);
  checkLength(w.embed, d.vocabSize * d.hiddenSize, 'model.embed_tokens.weight');
  if (w.lmHead !== undefined) checkLength(w.lmHead, d.vocabSize * d.hiddenSize, 'lm_head.weight');
  else if (!d.tiedEmbeddings)
    fail('reference weights: untied model without lm_head', 'lm_head.weight', 'present', 'none');
  checkLength(w.finalNorm, d.hiddenSize, 'model.norm.weight');
  if (w.layers.length !== d.numLayers) {
    fail('reference weights: wrong layer count', undefined, `${d.numLayers}`, `${w.layers.length}`);
  }
  for (let i = 0; i < d.numLayers; i++) checkLayer(d, w.layers[i], i);
}

/** Token ids must index the embedding; positions (for RoPE only) must be one non-negative integer per id. */
export function validateTokens(d: BitNetDims, ids: readonly number[], positions: readonly number[]): void {
  if (ids.length === 0) fail('reference forward: no tokens', undefined, 'at least one token id', 'none');
  if (positions.length !== ids.length) {
    fail(
      'reference forward: positions do not match ids',
      undefined,
      `${ids.length} positions`,
      `${positions.length}`,
    );
  }
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= d.vocabSize) {
      fail('reference forward: token id out of range', undefined, `0 ≤ id < ${d.vocabSize}`, `${id} at ${i}`);
    }
  });
  positions.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0)
      fail('reference forward: bad position', undefined, 'integer ≥ 0', `${p} at ${i}`);
  });
}
