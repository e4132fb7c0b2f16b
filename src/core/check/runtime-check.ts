import type { BitNetDims } from '../bitnet/dims.ts';
import { IO_NAMES } from '../bitnet/decoder-graph.ts';
import { float32Tensor, int64Tensor, type DecoderSession, type SessionTensor } from './decoder-session.ts';

export interface LogitComparison {
  maxAbsDiff: number;
  /** Largest |logit| of the expected side, the scale the difference is judged against. */
  maxAbsLogit: number;
  argmaxAgree: number;
  positions: number;
}

export interface RuntimeCheckReport {
  prompt: number[];
  /**
   * ONNX, whole prompt at once, against the TypeScript reference forward pass: every logit, or for a
   * model whose head re-scores its top candidates (q8, q4), those candidates (the `exactTop` highest).
   */
  full: LogitComparison;
  /** With a candidate head (q8, q4): every logit against the reference, reported (the non-re-scored ones are approximate). */
  allLogits?: LogitComparison;
  /** ONNX decoding with the KV cache (half the prompt, then one token at a time) against ONNX full. */
  kvCache: LogitComparison;
  /** A batch of two with left padding in one row, against the single-row runs. */
  batch: LogitComparison;
  passed: boolean;
  timings: { fullMs: number; decodeMsPerToken: number };
}

/** Accepted difference: 1e-3 of the largest logit, and the same argmax at every position. */
export const RELATIVE_TOLERANCE = 1e-3;

export function comparisonPasses(c: LogitComparison): boolean {
  return c.maxAbsDiff <= RELATIVE_TOLERANCE * c.maxAbsLogit && c.argmaxAgree === c.positions;
}

/**
 * The bound for a probe at full width against the reference. There, hundreds of thousands of activations
 * are rounded per prompt and some always sit within float32 noise of a tie (docs/spec.md §2), so two correct
 * implementations disagree on a few int8 values and the logits drift by up to a few percent. What this
 * bound still catches are real conversion errors (wrong packing, scale rule, RoPE, head), which move
 * logits by their own size. The strict bound above is proven on the test fixtures.
 */
export const PROBE_TOLERANCE = 0.1;

export function probeComparisonPasses(c: LogitComparison): boolean {
  return c.maxAbsDiff <= PROBE_TOLERANCE * c.maxAbsLogit && c.argmaxAgree * 2 >= c.positions;
}

/**
 * Largest difference and argmax agreement per position. With `onlyTop`, differences count only at the
 * `onlyTop` highest actual logits of each position (the ones a q8 or q4 head re-scored exactly).
 */
export function compareLogits(
  actual: Float32Array,
  expected: Float32Array,
  vocab: number,
  onlyTop?: number,
): LogitComparison {
  if (actual.length !== expected.length) throw new Error(`logit count ${actual.length} ≠ ${expected.length}`);
  let maxAbsDiff = 0;
  let maxAbsLogit = 0;
  let argmaxAgree = 0;
  const positions = expected.length / vocab;
  for (let p = 0; p < positions; p++) {
    let ia = 0;
    let ie = 0;
    const counted =
      onlyTop === undefined ? undefined : topIndices(actual.subarray(p * vocab, (p + 1) * vocab), onlyTop);
    for (let v = 0; v < vocab; v++) {
      const i = p * vocab + v;
      if (!counted || counted.has(v)) {
        const d = Math.abs(actual[i] - expected[i]);
        if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
      }
      maxAbsLogit = Math.max(maxAbsLogit, Math.abs(expected[i]));
      if (actual[i] > actual[p * vocab + ia]) ia = v;
      if (expected[i] > expected[p * vocab + ie]) ie = v;
    }
    if (ia === ie) argmaxAgree++;
  }
  return { maxAbsDiff, maxAbsLogit, argmaxAgree, positions };
}

function topIndices(row: Float32Array, k: number): Set<number> {
  const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  return new Set(order.slice(0, k));
}

interface Step {
  ids: number[][];
  mask: number[][];
  positions: number[][];
  past?: Record<string, SessionTensor>;
}

async function runStep(session: DecoderSession, dims: BitNetDims, step: Step) {
  const batch = step.ids.length;
  const seq = step.ids[0].length;
  const feeds: Record<string, SessionTensor> = {
    [IO_NAMES.inputIds]: int64Tensor([batch, seq], step.ids.flat()),
    [IO_NAMES.attentionMask]: int64Tensor([batch, step.mask[0].length], step.mask.flat()),
    [IO_NAMES.positionIds]: int64Tensor([batch, seq], step.positions.flat()),
  };
  for (let i = 0; i < dims.numLayers; i++) {
    const empty = float32Tensor([batch, dims.numKvHeads, 0, dims.headDim], new Float32Array(0));
    feeds[IO_NAMES.pastKey(i)] = step.past?.[IO_NAMES.presentKey(i)] ?? empty;
    feeds[IO_NAMES.pastValue(i)] = step.past?.[IO_NAMES.presentValue(i)] ?? empty;
  }
  const out = await session.run(feeds);
  return { logits: out[IO_NAMES.logits].data as Float32Array, present: out };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const ones = (n: number) => new Array<number>(n).fill(1);

/**
 * Runs the converted decoder the three ways its users will (whole prompt, KV-cache decoding, padded
 * batches) and compares each with what it must equal.
 */
export async function runRuntimeCheck(
  session: DecoderSession,
  dims: BitNetDims,
  prompt: number[],
  referenceLogits: Float32Array,
  /** For a head that re-scores its top candidates exactly: how many of the highest logits are exact. */
  exactTop?: number,
): Promise<RuntimeCheckReport> {
  const V = dims.vocabSize;
  const S = prompt.length;
  const t0 = performance.now();
  const whole = await runStep(session, dims, { ids: [prompt], mask: [ones(S)], positions: [range(0, S)] });
  const fullMs = performance.now() - t0;
  const full = compareLogits(whole.logits, referenceLogits, V, exactTop);
  const allLogits = exactTop === undefined ? undefined : compareLogits(whole.logits, referenceLogits, V);

  const split = Math.max(1, Math.floor(S / 2));
  const incremental = new Float32Array(S * V);
  let step = await runStep(session, dims, {
    ids: [prompt.slice(0, split)],
    mask: [ones(split)],
    positions: [range(0, split)],
  });
  incremental.set(step.logits, 0);
  const t1 = performance.now();
  for (let p = split; p < S; p++) {
    step = await runStep(session, dims, {
      ids: [[prompt[p]]],
      mask: [ones(p + 1)],
      positions: [[p]],
      past: step.present,
    });
    incremental.set(step.logits, p * V);
  }
  const decodeMsPerToken = S > split ? (performance.now() - t1) / (S - split) : 0;
  const kvCache = compareLogits(incremental, whole.logits, V);

  // Row 1 holds the prompt's first S-2 tokens after two pads; causality makes its logits equal the
  // whole-prompt run's first S-2 positions.
  const pad = Math.min(2, S - 1);
  const short = S - pad;
  const padded = await runStep(session, dims, {
    ids: [prompt, [...new Array<number>(pad).fill(prompt[0]), ...prompt.slice(0, short)]],
    mask: [ones(S), [...new Array<number>(pad).fill(0), ...ones(short)]],
    positions: [range(0, S), [...new Array<number>(pad).fill(1), ...range(0, short)]],
  });
  const expected = new Float32Array(2 * short * V);
  const actual = new Float32Array(2 * short * V);
  expected.set(whole.logits.subarray(0, short * V), 0);
  actual.set(padded.logits.subarray(0, short * V), 0);
  expected.set(whole.logits.subarray(0, short * V), short * V);
  actual.set(padded.logits.subarray((S + pad) * V, 2 * S * V), short * V);
  const batch = compareLogits(actual, expected, V);

  return {
    prompt,
    full,
    ...(allLogits ? { allLogits } : {}),
    kvCache,
    batch,
    passed: comparisonPasses(full) && comparisonPasses(kvCache) && comparisonPasses(batch),
    timings: { fullMs, decodeMsPerToken },
  };
}

export function formatComparison(label: string, c: LogitComparison): string {
  return (
    `${label}: max |Δlogit| ${c.maxAbsDiff.toExponential(2)} (limit ${(RELATIVE_TOLERANCE * c.maxAbsLogit).toExponential(2)}), ` +
    `argmax ${c.argmaxAgree}/${c.positions}`
  );
}

/** A short, deterministic prompt inside the vocabulary, starting with BOS where the config has one. */
export function checkPrompt(vocab: number, bos?: number, length = 8, seed = 0): number[] {
  const ids = bos !== undefined && bos < vocab ? [bos] : [];
  for (let i = 1; ids.length < length; i++) ids.push((i * 7919 + 13 + seed * 104729) % vocab);
  return ids;
}
