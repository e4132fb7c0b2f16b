/**
 * The browser sinks' failure paths, over a stand-in for FileSystemWritableFileStream (Node has no File
 * System Access): the real-Chromium quota case is in test/browser/app.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../../src/core/errors.ts';
import { WritableStreamSink } from '../../../src/platform/browser/file-sinks.ts';

/** Accepts `limit` bytes, then throws the DOMException a browser throws; records what was kept. */
function failingWritable(limit: number, errorName: string) {
  const state = { accepted: 0, closed: false, aborted: false };
  const writable = {
    async write(op: { type: 'write'; position: number; data: Uint8Array }) {
      if (state.accepted + op.data.length > limit) throw new DOMException('refused', errorName);
      state.accepted += op.data.length;
    },
    async close() {
      state.closed = true;
    },
    async abort() {
      state.aborted = true;
    },
  };
  return { writable: writable as unknown as FileSystemWritableFileStream, state };
}

describe('WritableStreamSink failures', () => {
  it.each([
    [
      'QuotaExceededError',
      /model\.onnx: out of storage space after 65536 bytes \(QuotaExceededError\)/,
      /Free disk space/,
    ],
    [
      'NotAllowedError',
      /model\.onnx: the browser withdrew permission to write \(NotAllowedError\)/,
      /Allow the page/,
    ],
  ])(
    '%s becomes an environment error with what to do; abandon keeps nothing',
    async (name, problem, hint) => {
      const { writable, state } = failingWritable(100_000, name);
      const sink = new WritableStreamSink(writable, 'model.onnx', 1 << 16);
      let err: unknown;
      try {
        for (let i = 0; i < 8; i++) await sink.write(new Uint8Array(1 << 15));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as EnvironmentError).problem).toMatch(problem);
      expect((err as EnvironmentError).details.hint).toMatch(hint);
      await sink.abandon();
      expect(state.aborted).toBe(true);
      expect(state.closed).toBe(false);
    },
  );

  it('any other failure passes through unchanged (it is a bug, reported as one)', async () => {
    const { writable } = failingWritable(0, 'InvalidStateError');
    const sink = new WritableStreamSink(writable, 'model.onnx', 16);
    await expect(sink.write(new Uint8Array(32))).rejects.toMatchObject({ name: 'InvalidStateError' });
  });
});
