import type { VerifyStep } from '../convert/convert.ts';
import { CheckFailedError } from '../errors.ts';
import type { ProgressListener } from '../convert/progress.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { OutputTarget } from '../io/bytes.ts';
import type { FormatOptions } from '../formats/registry.ts';
import type { ModelPlan } from '../bitnet/model-plan.ts';
import { writeDecoder } from '../convert/write-decoder.ts';
import type { DecoderSession } from './decoder-session.ts';
import { REFERENCE_PARAM_LIMIT, runtimeCheckScope } from './check-scope.ts';
import { probePlan } from './probe.ts';
import { referenceForwardWithMargin } from './reference-forward.ts';
import { loadReferenceWeights } from './reference-weights.ts';
import {
  checkPrompt,
  comparisonPasses,
  probeComparisonPasses,
  PROBE_TOLERANCE,
  formatComparison,
  runRuntimeCheck,
  type RuntimeCheckReport,
} from './runtime-check.ts';

/**
 * With a candidate head (q8, q4), the logits it re-scored exactly are held to the reference; the check looks at the
 * highest 16 of each position (the head re-scores HEAD_CANDIDATES, more than any k people sample from).
 */
const EXACT_TOP_CHECKED = 16;

export interface RuntimeVerifyOptions {
  kernels: Kernels;
  format: FormatOptions;
  openSession: (target: OutputTarget, modelFile: string) => Promise<DecoderSession>;
  /** A scratch place for the probe model of a large checkpoint; discarded after the check. */
  scratchTarget: () => OutputTarget;
  onProgress?: ProgressListener;
  onReport?: (report: RuntimeCheckReport, scope: 'model' | 'probe') => void;
  signal?: AbortSignal;
  /** Defaults to REFERENCE_PARAM_LIMIT. */
  referenceParamLimit?: number;
}

/**
 * The original tool's "runtime test", made real: the written model runs in onnxruntime and its logits
 * are compared with the TypeScript reference forward pass. Fails the conversion when they disagree.
 * A model too large for the reference is checked through a probe built from the same checkpoint with the
 * same format: its first layers at full width and a cut vocabulary.
 */
export function runtimeVerify(opts: RuntimeVerifyOptions): VerifyStep {
  return async ({ target, modelFile, inspected }) => {
    const emit = opts.onProgress ?? (() => {});
    const { plan, config } = inspected;
    const bos = typeof config?.raw.bos_token_id === 'number' ? config.raw.bos_token_id : undefined;
    if (runtimeCheckScope(plan, opts.referenceParamLimit ?? REFERENCE_PARAM_LIMIT).mode === 'full') {
      const report = await check(plan, bos, () => opts.openSession(target, modelFile));
      finish(report, 'model', modelFile);
      return;
    }
    const probe = probePlan(plan);
    emit({
      status: 'log',
      level: 'info',
      message: `runtime check on a probe: first ${probe.dims.numLayers} layers at full width, first ${probe.dims.vocabSize} vocabulary rows`,
    });
    const scratch = opts.scratchTarget();
    try {
      await writeDecoder({
        plan: probe,
        format: opts.format,
        target: scratch,
        modelFile: 'probe.onnx',
        kernels: opts.kernels,
        signal: opts.signal,
      });
      finish(await check(probe, bos, () => opts.openSession(scratch, 'probe.onnx')), 'probe', modelFile);
    } finally {
      await scratch.discard();
    }
  };

  async function check(plan: ModelPlan, bos: number | undefined, open: () => Promise<DecoderSession>) {
    const weights = await loadReferenceWeights(plan, opts.kernels);
    const { prompt, logits, minTieMargin } = pickPrompt(
      (p) => referenceForwardWithMargin(plan.dims, weights, p),
      plan.dims.vocabSize,
      bos,
    );
    const session = await open();
    try {
      const exactTop = opts.format.head !== 'exact' ? EXACT_TOP_CHECKED : undefined;
      return { report: await runRuntimeCheck(session, plan.dims, prompt, logits, exactTop), minTieMargin };
    } finally {
      await session.release();
    }
  }

  function finish(
    { report, minTieMargin }: { report: RuntimeCheckReport; minTieMargin: number },
    scope: 'model' | 'probe',
    modelFile: string,
  ) {
    const emit = opts.onProgress ?? (() => {});
    opts.onReport?.(report, scope);
    const consistent = comparisonPasses(report.kvCache) && comparisonPasses(report.batch);
    const faithful = scope === 'probe' ? probeComparisonPasses(report.full) : comparisonPasses(report.full);
    const passed = consistent && faithful;
    const message = [
      `${scope === 'probe' ? 'probe, ' : ''}prompt of ${report.prompt.length} tokens, nearest rounding tie ${minTieMargin.toExponential(1)}`,
      formatComparison(
        report.allLogits ? `top ${EXACT_TOP_CHECKED} vs reference` : 'vs reference',
        report.full,
      ),
      ...(report.allLogits
        ? [formatComparison(`all logits (${opts.format.head}, reported)`, report.allLogits)]
        : []),
      formatComparison('KV cache vs full', report.kvCache),
      formatComparison('padded batch vs single', report.batch),
    ].join('; ');
    emit({
      status: 'check',
      name: 'runtime',
      file: modelFile,
      ok: passed,
      message:
        scope === 'probe'
          ? `${message} (probe bound: ${PROBE_TOLERANCE * 100}% of max |logit|, argmax on half the positions; rounding-tie flips are expected at full width)`
          : message,
    });
    if (!passed) {
      throw new CheckFailedError('onnxruntime logits disagree with the reference forward pass', {
        file: scope === 'probe' ? 'probe.onnx' : undefined,
        found: message,
      });
    }
  }
}

/** A rounding margin this wide is far beyond any float32 disagreement between correct implementations. */
const CLEAR_MARGIN = 1e-3;
const PROMPT_CANDIDATES = 16;

/**
 * Chooses the check prompt before onnxruntime runs: the first candidate whose reference computation meets
 * no activation within CLEAR_MARGIN of a rounding tie (else the one with the widest margin). At a near-tie
 * either rounding is correct (docs/spec.md §2), and one flipped int8 value can move a tiny model's logits by
 * more than the tolerance, so such a prompt cannot tell a right graph from a wrong one.
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
