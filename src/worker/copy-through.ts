/**
 * Files that travel with the model unchanged, so the output folder is loadable as a whole
 * (transformers.js reads config.json and the tokenizer next to the .onnx).
 */
import { TOKENIZER_FILES } from '../core/convert/model-folder.ts';
import { throwIfAborted } from '../core/errors.ts';
import type { InputFiles, OutputTarget } from '../core/io/bytes.ts';

/** The model's own configs and the engine's list of tokenizer files. */
const COPIED = new Set<string>(['config.json', 'generation_config.json', ...TOKENIZER_FILES]);

/** Copies in windows of this size: tokenizer.json can be tens of MB. */
const COPY_WINDOW = 4 << 20;

export function copiedFileNames(inputNames: readonly string[]): string[] {
  return inputNames.filter((n) => COPIED.has(n));
}

export async function copyThrough(
  input: InputFiles,
  target: OutputTarget,
  signal?: AbortSignal,
): Promise<string[]> {
  const names = copiedFileNames(input.list());
  for (const name of names) {
    const source = await input.open(name);
    if (!source) continue;
    const sink = await target.create(name);
    for (let at = 0; at < source.size; at += COPY_WINDOW) {
      throwIfAborted(signal);
      await sink.write(await source.read(at, Math.min(COPY_WINDOW, source.size - at)));
    }
    await sink.close();
  }
  return names;
}
