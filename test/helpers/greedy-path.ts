/**
 * Reference greedy decoding that also measures how close each step came to an ambiguous choice, so a
 * test compares a runtime's tokens with the reference only on paths where two correct
 * implementations cannot disagree (see test/e2e/model-folder.test.ts for the reasoning on margins).
 */
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import { ReferenceDecoder } from '../../src/core/check/reference-forward.ts';
import type { ReferenceWeights } from '../../src/core/check/reference-input.ts';

export interface GreedyPath {
  prompt: number[];
  tokens: number[];
  /** Top-1 minus top-2 logit at each generated step. */
  gaps: number[];
  /** Smallest of `gaps`. */
  minLogitGap: number;
  /** Smallest distance of a quantised activation to a rounding boundary, prompt and steps included. */
  minRoundingMargin: number;
}

export function greedyPath(
  dims: BitNetDims,
  weights: ReferenceWeights,
  prompt: number[],
  steps: number,
): GreedyPath {
  const decoder = new ReferenceDecoder(dims, weights);
  const h = dims.hiddenSize;
  let normed = decoder.append(prompt);
  let last = prompt.length - 1;
  const tokens: number[] = [];
  const gaps: number[] = [];
  for (let step = 0; step < steps; step++) {
    const logits = decoder.logits(normed.subarray(last * h, (last + 1) * h), 1);
    let first = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[first]) first = v;
    let second = first === 0 ? 1 : 0;
    for (let v = 0; v < logits.length; v++) if (v !== first && logits[v] > logits[second]) second = v;
    gaps.push(logits[first] - logits[second]);
    tokens.push(first);
    if (step + 1 < steps) {
      normed = decoder.append([first]);
      last = 0;
    }
  }
  const minLogitGap = Math.min(...gaps);
  return { prompt, tokens, gaps, minLogitGap, minRoundingMargin: decoder.minTieMargin };
}
