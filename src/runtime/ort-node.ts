import * as ort from 'onnxruntime-node';
import type { DecoderSession, SessionTensor } from '../core/check/decoder-session.ts';

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
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const out = await session.run(ortFeeds);
      const result: Record<string, SessionTensor> = {};
      for (const [name, t] of Object.entries(out)) {
        result[name] = {
          type: t.type as SessionTensor['type'],
          dims: [...t.dims],
          data: t.data as Float32Array,
        };
      }
      return result;
    },
    release: () => session.release(),
  };
}
