/**
 * "Download all": the files of a run, streamed into one `.zip` by client-zip (stored, no compression;
 * zip64 once past 4 GB). Entries are disk-backed Files handed over one at a time, as the zip asks for
 * them, and the zip's bytes go straight to a file sink: neither the inputs nor the zip are ever whole
 * in memory.
 */
import { makeZip } from 'client-zip';
import { throwIfAborted } from '../core/errors.ts';
import type { ByteSink } from '../core/io/bytes.ts';
import type { ClosableSink } from '../platform/browser/file-sinks.ts';

export interface ZipEntry {
  /** Path inside the zip, `/`-separated. */
  name: string;
  file: () => Promise<File>;
}

/** Writes the zip of `entries` into `sink`; on failure or cancel the sink is abandoned where it can be. */
export async function writeZip(
  entries: ZipEntry[],
  sink: ByteSink & Partial<Pick<ClosableSink, 'abandon'>>,
  signal?: AbortSignal,
): Promise<void> {
  async function* lazily() {
    for (const entry of entries) {
      throwIfAborted(signal);
      const file = await entry.file();
      yield { name: entry.name, input: file, lastModified: file.lastModified, size: file.size };
    }
  }
  const reader = makeZip(lazily(), { buffersAreUTF8: true }).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      throwIfAborted(signal);
      await sink.write(value);
    }
    await sink.close();
  } catch (e) {
    await reader.cancel().catch(() => {});
    await sink.abandon?.();
    throw e;
  }
}

/**
 * The zip's name (and its top folder): the picked folder's name with `-onnx`, else `bitnet-onnx`.
 * Characters file systems refuse become `_`.
 */
export function zipNameFor(inputPaths: readonly string[]): string {
  const split = inputPaths.map((p) => p.replace(/\\/g, '/').split('/').filter(Boolean));
  const top = split[0]?.[0];
  const shared = split.length > 0 && split.every((s) => s.length > 1 && s[0] === top);
  const base = shared ? `${top}-onnx` : 'bitnet-onnx';
  return Array.from(base, (c) => (c.charCodeAt(0) < 32 || '\\/:*?"<>|'.includes(c) ? '_' : c)).join('');
}
