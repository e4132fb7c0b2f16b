/**
 * How the output projection (the "head", vocab × hidden) is computed in the compact formats. The one
 * place that knows the head modes; the graph (src/core/bitnet/fused-decoder.ts), the filler and the
 * front ends read them from here.
 * - exact: float32 product against the exact table, every logit exact.
 * - q8 / q4: an 8- or 4-bit blockwise copy of the table for the full product (MatMulNBits), then the top
 *   HEAD_CANDIDATES are re-scored against the exact rows, so greedy and top-k choices are those of the
 *   exact head; the other logits are approximate (docs/spec.md §8).
 */
import type { BlockBits } from '../kernels/kernels.ts';

export type HeadMode = 'exact' | 'q8' | 'q4';

export const HEAD_MODES: readonly HeadMode[] = ['exact', 'q8', 'q4'];

/** The head modes that re-score a blockwise copy's candidates. */
export type CandidateHeadMode = Exclude<HeadMode, 'exact'>;

export const CANDIDATE_HEAD_MODES = HEAD_MODES.filter((m): m is CandidateHeadMode => m !== 'exact');

/** How many of the approximate head's best logits per position are re-scored exactly. */
export const HEAD_CANDIDATES = 64;

export interface CandidateHead {
  /** Bits per code of the blockwise copy. */
  bits: BlockBits;
  /** Block size along hidden of the copy (MatMulNBits block_size). */
  blockSize: number;
}

const CANDIDATE_HEADS: Record<CandidateHeadMode, CandidateHead> = {
  q8: { bits: 8, blockSize: 32 },
  q4: { bits: 4, blockSize: 32 },
};

/** The blockwise copy a head mode multiplies with, or undefined for the exact head. */
export function candidateHead(mode: HeadMode): CandidateHead | undefined {
  return mode === 'exact' ? undefined : CANDIDATE_HEADS[mode];
}

export function isHeadMode(s: string): s is HeadMode {
  return (HEAD_MODES as readonly string[]).includes(s);
}

/** One line per mode for help texts and the app. */
export function describeHead(mode: HeadMode): string {
  const c = candidateHead(mode);
  if (!c) return 'every logit exact: a float32 product against the full table';
  return (
    `a ${c.bits}-bit copy of the head; its top ${HEAD_CANDIDATES} candidates re-scored exactly, ` +
    'so greedy and top-k choices are exact'
  );
}
