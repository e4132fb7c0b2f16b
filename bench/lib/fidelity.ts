/** Comparing two models' greedy runs (bench/lib/decode-child.ts greedyRun) position by position. */

export interface GreedyComparison {
  steps: number;
  /** Steps where the other model's own argmax equals the reference's (the fed token). */
  greedyAgree: number;
  /** First step where they differ, or -1: with teacher forcing, free greedy output is identical iff -1. */
  firstDifference: number;
  k: number;
  /** |top-k(reference) ∩ top-k(other)| ÷ k: mean and minimum over steps. */
  topkOverlapMean: number;
  topkOverlapMin: number;
  /** Steps whose top-k lists are identical in order. */
  topkSameOrder: number;
  /** Largest |Δ| over every logit of every step, and the reference's largest |logit|. */
  maxAbsDiff: number;
  maxAbsLogit: number;
  /** Largest |Δ| over the other model's own top-k entries (re-scored ones should be exact). */
  maxAbsDiffTopk: number;
}

/** The indices of the k largest values, largest first. */
export function topK(row: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let v = 0; v < row.length; v++) {
    if (idx.length === k && row[v] <= row[idx[k - 1]]) continue;
    let j = Math.min(idx.length, k - 1);
    if (idx.length < k) idx.push(v);
    while (j > 0 && row[idx[j - 1]] < row[v]) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
  return idx;
}

export function compareGreedy(
  ref: { ids: Int32Array; logits: Float32Array },
  other: { ids: Int32Array; logits: Float32Array },
  vocab: number,
  k = 10,
): GreedyComparison {
  const steps = Math.min(ref.ids.length, other.ids.length);
  let greedyAgree = 0;
  let firstDifference = -1;
  let overlapSum = 0;
  let overlapMin = 1;
  let sameOrder = 0;
  let maxAbsDiff = 0;
  let maxAbsLogit = 0;
  let maxAbsDiffTopk = 0;
  for (let s = 0; s < steps; s++) {
    if (ref.ids[s] === other.ids[s]) greedyAgree++;
    else if (firstDifference < 0) firstDifference = s;
    const a = ref.logits.subarray(s * vocab, (s + 1) * vocab);
    const b = other.logits.subarray(s * vocab, (s + 1) * vocab);
    for (let v = 0; v < vocab; v++) {
      const d = Math.abs(a[v] - b[v]);
      if (d > maxAbsDiff || Number.isNaN(d)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
      if (Math.abs(a[v]) > maxAbsLogit) maxAbsLogit = Math.abs(a[v]);
    }
    const ta = topK(a, k);
    const tb = topK(b, k);
    const inA = new Set(ta);
    const overlap = tb.filter((v) => inA.has(v)).length / k;
    overlapSum += overlap;
    overlapMin = Math.min(overlapMin, overlap);
    if (ta.every((v, i) => v === tb[i])) sameOrder++;
    for (const v of tb) maxAbsDiffTopk = Math.max(maxAbsDiffTopk, Math.abs(a[v] - b[v]));
  }
  return {
    steps,
    greedyAgree,
    firstDifference,
    k,
    topkOverlapMean: overlapSum / steps,
    topkOverlapMin: overlapMin,
    topkSameOrder: sameOrder,
    maxAbsDiff,
    maxAbsLogit,
    maxAbsDiffTopk,
  };
}
