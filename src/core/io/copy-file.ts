import { throwIfAborted } from '../errors.ts';
import type { InputFiles, OutputTarget } from './bytes.ts';

/** Copies in windows of this size: tokenizer.json can be tens of MB. */
const COPY_WINDOW = 4 << 20;

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
