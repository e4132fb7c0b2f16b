/** Every weight format the converter writes. Adding a format: one module beside this file, one line here. */
import type { FormatOptions, WeightFormatModule } from './format.ts';
import { type HeadMode } from './head.ts';
import { fp32Format } from './fp32.ts';
import { int2Format } from './int2.ts';
import { int8Format } from './int8.ts';

export const WEIGHT_FORMATS = [fp32Format, int8Format, int2Format] as const;

export type WeightFormat = (typeof WEIGHT_FORMATS)[number]['id'];
export type { EmbedStorage, FormatOptions } from './format.ts';
export { HEAD_MODES, isHeadMode, type HeadMode } from './head.ts';

export const FORMAT_IDS = WEIGHT_FORMATS.map((f) => f.id) as WeightFormat[];

export function formatModule(id: string): WeightFormatModule {
  const f = WEIGHT_FORMATS.find((m) => m.id === id);
  if (!f) throw new Error(`unknown weight format ${id}`);
  return f;
}

export function isWeightFormat(id: string): id is WeightFormat {
  return WEIGHT_FORMATS.some((m) => m.id === id);
}

export const BLOCK_SIZES = [16, 32, 64, 128, 256] as const;

/** A format's options as people get them without flags. */
export function defaultFormat(weights: WeightFormat, head: HeadMode = 'exact'): FormatOptions {
  // The exact head multiplies the embedding table itself: float32 storage keeps that product free of a
  // per-token cast. With a candidate head the exact table is only gathered from, so float16 halves it for free.
  const compact = formatModule(weights).graphStyle === 'onnxruntime';
  return { weights, embed: compact && head !== 'exact' ? 'fp16' : 'fp32', blockSize: 128, head };
}

/** Where a format's single model file goes: transformers.js's `model{suffix}.onnx`. */
export function modelFileName(weights: string): string {
  return `model${formatModule(weights).fileSuffix}.onnx`;
}

/** One line for logs and summaries, e.g. "2-bit weights (MatMulNBits block 128, pinned), exact head". */
export function describeFormat(f: FormatOptions): string {
  const m = formatModule(f.weights);
  const block = m.blockwise ? ` (block ${f.blockSize})` : '';
  const head = m.graphStyle === 'onnxruntime' ? `, ${f.head} head` : '';
  return `${f.weights}${block} weights, ${f.embed} embedding${head}`;
}

/** Metadata of a converted model (in the .onnx and the model folder's config). */
export function formatMetadata(f: FormatOptions): Record<string, string | number> {
  const m = formatModule(f.weights);
  return {
    weights: f.weights,
    embed: f.embed,
    ...(m.graphStyle === 'onnxruntime' ? { head: f.head } : {}),
    ...m.metadata(f),
  };
}
