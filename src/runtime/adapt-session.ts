import type { DecoderSession, SessionTensor } from '../core/check/decoder-session.ts';

/** The part of an onnxruntime session (node or web: both come from onnxruntime-common) the engine uses. */
interface OrtSessionLike<T> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, T>,
  ): Promise<Record<string, { type: string; dims: readonly number[]; data: unknown }>>;
  release(): Promise<void>;
}

/** Adapts either onnxruntime package's session to the engine's DecoderSession. */
export function adaptSession<T>(
  session: OrtSessionLike<T>,
  makeTensor: (type: SessionTensor['type'], data: SessionTensor['data'], dims: number[]) => T,
): DecoderSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, T> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = makeTensor(t.type, t.data, t.dims);
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
