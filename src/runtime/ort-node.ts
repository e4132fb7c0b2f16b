import type { DecoderSession } from '../core/check/decoder-session.ts';
import { adaptSession } from './adapt-session.ts';

type OrtNode = typeof import('onnxruntime-node');

let ortNode: Promise<OrtNode> | undefined;

/**
 * onnxruntime-node, imported on first use: its native library (tens of MB) is loaded only when a check
 * actually opens a session, never for `--help`, `--version`, `--no-check` or `app`.
 */
function loadOrtNode(): Promise<OrtNode> {
  ortNode ??= import('onnxruntime-node');
  return ortNode;
}

/** The CLI's only door to onnxruntime: a session over a model file on disk (external data beside it). */
export async function openNodeSession(
  modelPath: string,
  options: { threads?: number } = {},
): Promise<DecoderSession> {
  const ort = await loadOrtNode();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 0,
    logSeverityLevel: 3,
  });
  return adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims));
}
