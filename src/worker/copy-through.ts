/**
 * Files that travel with the model unchanged, so the output folder is loadable as a whole
 * (transformers.js reads config.json and the tokenizer next to the .onnx).
 */
import { TOKENIZER_FILES } from '../core/convert/model-folder.ts';
import { copyFile } from '../core/io/copy-file.ts';
import type { InputFiles, OutputTarget } from '../core/io/bytes.ts';

/** The model's own configs and the engine's list of tokenizer files. */
const COPIED = new Set<string>(['config.json', 'generation_config.json', ...TOKENIZER_FILES]);

export function copiedFileNames(inputNames: readonly string[]): string[] {
  return inputNames.filter((n) => COPIED.has(n));
}

export async function copyThrough(
  input: InputFiles,
  target: OutputTarget,
  signal?: AbortSignal,
): Promise<string[]> {
  const names = copiedFileNames(input.list());
  for (const name of names) await copyFile(input, target, name, signal);
  return names;
}
