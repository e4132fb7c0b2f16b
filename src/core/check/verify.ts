import type { VerifyStep } from '../convert/convert.ts';
import { ConversionError } from '../errors.ts';
import type { ProgressListener } from '../convert/progress.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { OutputTarget } from '../io/bytes.ts';
import type { DecoderSession } from './decoder-session.ts';
import { referenceForwardWithMargin } from './reference-forward.ts';
import { loadReferenceWeights } from './reference-weights.ts';
import {
  checkPrompt,
  comparisonPasses,
  formatComparison,
  runRuntimeCheck,
  type RuntimeCheckReport,
} from './runtime-check.ts';

/** Above this many parameters the in-process reference (whole model as float32) is not attempted. */
export const REFERENCE_PARAM_LIMIT = 400_000_000;

export interface RuntimeVerifyOptions {
  kernels: Kernels;
  openSession: (target: OutputTarget, modelFile: string) => Promise<DecoderSession>;
  onProgress?: ProgressListener;
  onReport?: (report: RuntimeCheckReport) => void;
  /**
   * The graph is approximate by design (int2 with accuracy_level 4): its distance from the reference is
   * reported, not enforced; KV-cache and batch consistency are still enforced.
   */
  approximate?: boolean;
}

/**
 * The original tool's "runtime test", made real: the written model runs in onnxruntime and its logits
 * are compared with the TypeScript reference forward pass. Fails the conversion when they disagree.
 */
export function runtimeVerify(opts: RuntimeVerifyOptions): VerifyStep {
  return async ({ target, modelFile, inspected }) => {
    const emit = opts.onProgress ?? (() => {});
    const { plan, config } = inspected;
    const d = plan.dims;
    const params =
      d.vocabSize * d.hiddenSize * (plan.lmHead ? 2 : 1) +
      d.numLayers *
        (2 * d.hiddenSize * (d.numHeads + d.numKvHeads) * d.headDim + 3 * d.hiddenSize * d.intermediateSize);
    if (params > REFERENCE_PARAM_LIMIT) {
      emit({
        status: 'check',
        name: 'runtime',
        ok: true,
        message: `skipped: ${(params / 1e9).toFixed(2)}B parameters exceed the in-process reference limit`,
      });
      return;
    }
    const bos = typeof config?.raw.bos_token_id === 'number' ? config.raw.bos_token_id : undefined;
    const weights = await loadReferenceWeights(plan, opts.kernels);
    const {
      prompt,
      logits: expected,
      minTieMargin,
    } = pickPrompt((p) => referenceForwardWithMargin(d, weights, p), d.vocabSize, bos);
    const session = await opts.openSession(target, modelFile);
    let report: RuntimeCheckReport;
    try {
      report = await runRuntimeCheck(session, d, prompt, expected);
    } finally {
      await session.release();
    }
    opts.onReport?.(report);
    const message = [
      `prompt of ${prompt.length} tokens, nearest rounding tie ${minTieMargin.toExponential(1)}`,
      formatComparison('vs reference', report.full),
      formatComparison('KV cache vs full', report.kvCache),
      formatComparison('padded batch vs single', report.batch),
    ].join('; ');
    const passed = opts.approximate
      ? comparisonPasses(report.kvCache) && comparisonPasses(report.batch)
      : report.passed;
    emit({
      status: 'check',
      name: 'runtime',
      ok: passed,
      message: opts.approximate
        ? `approximate format, reference distance reported only; ${message}`
        : message,
    });
    if (!passed) {
      throw new ConversionError('onnxruntime logits disagree with the reference forward pass', {
        file: modelFile,
        found: message,
      });
    }
  };
}

/** A rounding margin this wide is far beyond any float32 disagreement between correct implementations. */
const CLEAR_MARGIN = 1e-3;
const PROMPT_CANDIDATES = 16;

/**
 * Chooses the check prompt before onnxruntime runs: the first candidate whose reference computation meets
 * no activation that sits within CLEAR_MARGIN of a rounding tie (else the one with the widest margin).
 * At a near-tie, either rounding is correct (BITNET.md §2) and one flipped int8 value can move a tiny
 * model's logits by more than the tolerance, so such a prompt cannot tell a right graph from a wrong one.
 */
function pickPrompt(
  forward: (prompt: number[]) => { logits: Float32Array; minTieMargin: number },
  vocab: number,
  bos: number | undefined,
): { prompt: number[]; logits: Float32Array; minTieMargin: number } {
  let best: { prompt: number[]; logits: Float32Array; minTieMargin: number } | undefined;
  for (let seed = 0; seed < PROMPT_CANDIDATES; seed++) {
    const prompt = checkPrompt(vocab, bos, 8, seed);
    const result = { prompt, ...forward(prompt) };
    if (!best || result.minTieMargin > best.minTieMargin) best = result;
    if (best.minTieMargin >= CLEAR_MARGIN) break;
  }
  return best!;
}
