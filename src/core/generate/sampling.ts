/**
 * Choosing the next token from one row of logits: greedy (argmax, first index wins a tie, as
 * torch.argmax and the reference's argmaxRow) or sampling with a temperature over the top k logits,
 * drawn from a seedable generator so a run can be repeated exactly.
 */

export type Sampling =
  | { kind: 'greedy' }
  | {
      kind: 'sample';
      /** > 0; lower is closer to greedy. */
      temperature: number;
      /** Keep the k most likely tokens (0: all of them). */
      topK: number;
      /** Seed of the generator; the same seed, prompt and model give the same tokens. */
      seed: number;
    };

/** A uniform [0, 1) generator (mulberry32: 32-bit state, fast, good enough for sampling). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest logit; the first one wins a tie. A NaN means a broken model, never a token. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let v = 0; v < logits.length; v++) {
    const x = logits[v];
    if (Number.isNaN(x)) throw new Error(`logit ${v} is NaN: the model produced no usable output`);
    if (x > logits[best]) best = v;
  }
  return best;
}

/** Throws a RangeError naming the first setting that is out of range. */
export function validateSampling(s: Sampling): void {
  if (s.kind === 'greedy') return;
  if (!(s.temperature > 0) || !Number.isFinite(s.temperature)) {
    throw new RangeError(`temperature must be a number > 0, got ${s.temperature}`);
  }
  if (!Number.isInteger(s.topK) || s.topK < 0) {
    throw new RangeError(`top-k must be an integer ≥ 0 (0 keeps every token), got ${s.topK}`);
  }
  if (!Number.isInteger(s.seed)) throw new RangeError(`seed must be an integer, got ${s.seed}`);
}

/** The k indices with the largest logits, largest first (ties: lower index first). */
export function topKIndices(logits: ArrayLike<number>, k: number): number[] {
  const n = logits.length;
  const keep = k <= 0 || k >= n ? n : k;
  if (keep === n) {
    const order = Array.from({ length: n }, (_, i) => i);
    return order.sort((a, b) => logits[b] - logits[a] || a - b);
  }
  // One pass keeping the best `keep` in order: a vocabulary of 128k is never sorted for a top-40.
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    if (best.length === keep && !(x > logits[best[keep - 1]])) continue;
    let at = best.length;
    while (at > 0 && x > logits[best[at - 1]]) at--;
    best.splice(at, 0, i);
    if (best.length > keep) best.pop();
  }
  return best;
}

/**
 * Draws a token from softmax(logits / temperature) restricted to the top k, with `random()` in [0, 1).
 * Probabilities are computed in float64 from the largest kept logit down, so no value overflows.
 */
export function sampleToken(
  logits: ArrayLike<number>,
  temperature: number,
  topK: number,
  random: () => number,
): number {
  argmax(logits); // rejects NaN logits with the same message as greedy decoding
  const kept = topKIndices(logits, topK);
  const top = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random() * total;
  for (let j = 0; j < kept.length; j++) {
    u -= weights[j];
    if (u < 0) return kept[j];
  }
  // Rounding can leave u a hair above 0 after the last weight: the last kept token is then the draw.
  return kept[kept.length - 1];
}

/** A token picker for one generation run: greedy, or sampling with its own generator. */
export function tokenPicker(s: Sampling): (logits: ArrayLike<number>) => number {
  validateSampling(s);
  if (s.kind === 'greedy') return argmax;
  const random = seededRandom(s.seed);
  return (logits) => sampleToken(logits, s.temperature, s.topK, random);
}
