/**
 * A person's format choice (a weight format, maybe a head, an embedding storage, a block size) made into
 * the engine's FormatOptions, the same way for the CLI's flags and the tab's controls: anything left out
 * takes the format's default, and the plain opset-17 formats always have the exact head.
 */
import {
  defaultFormat,
  formatModule,
  type EmbedStorage,
  type FormatOptions,
  type HeadMode,
  type WeightFormat,
} from '../formats/registry.ts';

export interface FormatChoice {
  weights: WeightFormat;
  embed?: EmbedStorage;
  /** Formats with blockwise products only: the block size along K. */
  blockSize?: number;
  /** Compact formats only: the exact head (default) or a q8 / q4 head with exact re-scoring. */
  head?: HeadMode;
}

export function formatOptions(choice: FormatChoice): FormatOptions {
  const compact = formatModule(choice.weights).graphStyle === 'onnxruntime';
  const base = defaultFormat(choice.weights, compact ? (choice.head ?? 'exact') : 'exact');
  return {
    ...base,
    embed: choice.embed ?? base.embed,
    blockSize: choice.blockSize ?? base.blockSize,
  };
}
