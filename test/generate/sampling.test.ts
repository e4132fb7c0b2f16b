import { describe, expect, it } from 'vitest';
import {
  argmax,
  sampleToken,
  seededRandom,
  tokenPicker,
  topKIndices,
  validateSampling,
} from '../../src/core/generate/sampling.ts';

describe('greedy choice', () => {
  it('takes the largest logit, the first one on a tie, and refuses NaN', () => {
    expect(argmax([0.1, 3, -2, 3])).toBe(1);
    expect(argmax(new Float32Array([-5, -4, -4.5]))).toBe(1);
    expect(() => argmax([1, NaN, 2])).toThrow(/logit 1 is NaN/);
  });
});

describe('seeded sampling', () => {
  it('repeats exactly for a seed and differs between seeds', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = Array.from({ length: 8 }, () => a());
    expect(Array.from({ length: 8 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('top-k keeps the k largest, largest first, lower index first on ties', () => {
    const logits = [1, 5, 3, 5, -1, 4];
    expect(topKIndices(logits, 3)).toEqual([1, 3, 5]);
    expect(topKIndices(logits, 0)).toEqual([1, 3, 5, 2, 0, 4]);
    expect(topKIndices(logits, 99)).toEqual([1, 3, 5, 2, 0, 4]);
  });

  it('never draws outside the top k, and follows softmax(logits / T) in frequency', () => {
    const logits = [0, Math.log(3), 10 * -1, Math.log(1)];
    const random = seededRandom(7);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, 1, 2, random)]++;
    // Top 2 are ids 1 (weight 3) and 0 (weight 1, first of the tie with id 3): 75% / 25%.
    expect(counts[2] + counts[3]).toBe(0);
    expect(counts[1] / n).toBeCloseTo(0.75, 1);
    expect(counts[0] / n).toBeCloseTo(0.25, 1);
  });

  it('a tiny temperature is greedy; a seeded picker repeats its run', () => {
    const logits = [0.5, 0.7, 0.69];
    const random = seededRandom(1);
    for (let i = 0; i < 100; i++) expect(sampleToken(logits, 1e-4, 0, random)).toBe(1);
    const run = (seed: number) => {
      const pick = tokenPicker({ kind: 'sample', temperature: 1, topK: 0, seed });
      return Array.from({ length: 32 }, () => pick(logits));
    };
    expect(run(5)).toEqual(run(5));
    expect(new Set(run(5)).size).toBeGreaterThan(1);
  });

  it('names a setting that is out of range', () => {
    expect(() => validateSampling({ kind: 'sample', temperature: 0, topK: 0, seed: 1 })).toThrow(
      /temperature/,
    );
    expect(() => validateSampling({ kind: 'sample', temperature: 1, topK: -1, seed: 1 })).toThrow(/top-k/);
    expect(() => validateSampling({ kind: 'sample', temperature: 1, topK: 2.5, seed: 1 })).toThrow(/top-k/);
    expect(() => validateSampling({ kind: 'sample', temperature: 1, topK: 0, seed: 0.5 })).toThrow(/seed/);
  });
});
