/**
 * What the runtime check runs on: the model itself, or a probe of its first layers when the model is
 * too large for the reference forward pass (docs/spec.md §2). `runtimeVerify` follows this choice, and
 * both front ends show it before converting.
 */
import type { ModelPlan } from '../bitnet/model-plan.ts';
import { PROBE_LAYERS, PROBE_VOCAB, referenceParams } from './probe.ts';

/** Above this many parameters the whole model is not loaded into the reference; a probe is checked. */
export const REFERENCE_PARAM_LIMIT = 400_000_000;

export type CheckScope = { mode: 'full' } | { mode: 'probe'; reason: string };

export function runtimeCheckScope(plan: ModelPlan, limit = REFERENCE_PARAM_LIMIT): CheckScope {
  const params = referenceParams(plan);
  if (params <= limit) return { mode: 'full' };
  return {
    mode: 'probe',
    reason:
      `${(params / 1e9).toFixed(2)}B parameters are more than the reference forward pass holds next to ` +
      `the runtime (onnxruntime-web's heap is 4 GiB), so a probe is checked instead: the first ${PROBE_LAYERS} ` +
      `layers at full width and the first ${PROBE_VOCAB} vocabulary rows, read from the same weights`,
  };
}
