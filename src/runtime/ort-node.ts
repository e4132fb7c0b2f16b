import * as ort from 'onnxruntime-node';
import type { DecoderSession } from '../core/check/decoder-session.ts';
import { adaptSession } from './adapt-session.ts';

/** The CLI's only door to onnxruntime: a session over a model file on disk (external data beside it). */
export async function openNodeSession(
  modelPath: string,
  options: { threads?: number } = {},
): Promise<DecoderSession> {
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 0,
    logSeverityLevel: 3,
  });
  return adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims));
}
