/**
 * The files of a model as the browser hands them over: a picked file, several picked files, or a
 * picked or dropped folder. Paths arrive with the folder's own name in front (`My model/config.json`);
 * the engine wants names relative to the model folder, so that shared first segment is removed.
 */
import type { ByteSource, InputFiles } from '../../core/io/bytes.ts';
import { BlobSource } from './blob-source.ts';

/** One picked or dropped file and its path inside what the user chose ('' segments never occur). */
export interface PickedFile {
  path: string;
  blob: Blob;
}

export function browserInputFiles(picked: readonly PickedFile[]): InputFiles {
  const relative = relativeNames(picked.map((p) => p.path));
  const byName = new Map<string, Blob>();
  picked.forEach((p, i) => byName.set(relative[i], p.blob));
  const sources = new Map<string, BlobSource>();
  // A lone file is what the user pointed at; a folder or a multi-file pick is resolved by the engine.
  const entry = picked.length === 1 ? relative[0] : undefined;
  return {
    entry,
    list: () => [...byName.keys()].sort(),
    async open(name): Promise<ByteSource | undefined> {
      const blob = byName.get(name);
      if (!blob) return undefined;
      let source = sources.get(name);
      if (!source) sources.set(name, (source = new BlobSource(blob, name)));
      return source;
    },
  };
}

/**
 * Strips the leading folder segments every path shares, so `model/config.json` and
 * `model/model.safetensors` become `config.json` and `model.safetensors`. Backslashes (from some
 * drag sources) count as separators.
 */
export function relativeNames(paths: readonly string[]): string[] {
  const split = paths.map((p) => p.replace(/\\/g, '/').split('/').filter(Boolean));
  let shared = 0;
  const shortest = Math.min(...split.map((s) => s.length));
  while (shared < shortest - 1 && split.every((s) => s[shared] === split[0][shared])) shared++;
  return split.map((s) => s.slice(shared).join('/'));
}
