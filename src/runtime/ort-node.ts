import type * as Ort from 'onnxruntime-node';
import type { DecoderSession } from '../core/check/decoder-session.ts';
import { EnvironmentError } from '../core/errors.ts';
import { adaptSession } from './adapt-session.ts';

let loading: Promise<typeof Ort> | undefined;

/**
 * onnxruntime-node is a native library: it is loaded on first use (never for --help, --version, app or
 * --no-check), and a failure to load it is reported as what it is, with what to do.
 */
export function loadOrt(): Promise<typeof Ort> {
  loading ??= import('onnxruntime-node').catch((e: unknown) => {
    loading = undefined;
    throw new EnvironmentError(
      `the native library failed to load (${String((e as Error)?.message ?? e).split('\n')[0]})`,
      {
        path: 'onnxruntime-node',
        hint: 'reinstall it (`npm install onnxruntime-node`) for this platform, or run with --no-check to skip the runtime check',
      },
      { cause: e },
    );
  });
  return loading;
}

/** The CLI's only door to onnxruntime: a session over a model file on disk (external data beside it). */
export async function openNodeSession(
  modelPath: string,
  options: { threads?: number } = {},
): Promise<DecoderSession> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 0,
    logSeverityLevel: 3,
  });
  return adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims));
}
