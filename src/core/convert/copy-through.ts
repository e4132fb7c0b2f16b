/**
 * Files that travel with a model unchanged, so the output is usable as a whole: the tokenizer (what
 * transformers.js and onnxruntime-genai tokenise with) and, beside a single model file, the input's own
 * configs (a model folder writes its own, src/core/convert/model-folder.ts).
 */
import { throwIfAborted } from '../errors.ts';
import type { InputFiles, OutputTarget } from '../io/bytes.ts';
import type { OutputLayout } from './output-layout.ts';

/** Copies in windows of this size: tokenizer.json can be tens of MB. */
const COPY_WINDOW = 4 << 20;

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
] as const;

/** The input's configs, copied beside a single model file (the generation panel reads them). */
const SINGLE_CONFIGS = ['config.json', 'generation_config.json'] as const;

/** The files of the input that a layout copies unchanged, in the order they are copied. */
export function copiedFileNames(inputNames: readonly string[], layout: OutputLayout): string[] {
  const present = new Set(inputNames);
  const wanted: readonly string[] =
    layout === 'folder' ? TOKENIZER_FILES : [...SINGLE_CONFIGS, ...TOKENIZER_FILES];
  return wanted.filter((n) => present.has(n));
}

export interface CopiedFile {
  name: string;
  bytes: number;
}

/** Streams each named input file into the target unchanged (never whole in memory); skips absent ones. */
export async function copyThrough(
  input: InputFiles,
  target: OutputTarget,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<CopiedFile[]> {
  const copied: CopiedFile[] = [];
  for (const name of names) {
    const bytes = await copyFile(input, target, name, signal);
    if (bytes !== undefined) copied.push({ name, bytes });
  }
  return copied;
}

/** Streams one input file into the target unchanged; returns its size, or undefined when absent. */
export async function copyFile(
  input: InputFiles,
  target: OutputTarget,
  name: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const source = await input.open(name);
  if (!source) return undefined;
  const sink = await target.create(name);
  for (let at = 0; at < source.size; at += COPY_WINDOW) {
    throwIfAborted(signal);
    await sink.write(await source.read(at, Math.min(COPY_WINDOW, source.size - at)));
  }
  await sink.close();
  return source.size;
}
