/**
 * What a converted model folder offers for generation, from its file names and configs: which
 * `.onnx` files there are (each with its external data files), where its config, generation config
 * and tokenizer are, and the numbers the decode loop needs (KV cache shape, context length, stop ids).
 * Works for what `--output-dir` writes (`onnx/model*.onnx`, a llama-style config.json) and for a
 * single model file beside the original BitNet config.json.
 */
import { dataFileName } from '../onnx/layout.ts';
import type { KvShape } from './decode-loop.ts';

export interface ModelFileSet {
  /** The `.onnx` file, relative to the folder. */
  model: string;
  /** Its external data files in order (`model.onnx_data`, `model.onnx_data_1`, …). */
  data: string[];
}

export interface GenerationFiles {
  models: ModelFileSet[];
  config?: string;
  generationConfig?: string;
  tokenizer?: string;
  tokenizerConfig?: string;
}

/** Model files in the order a person most likely wants: the folder's default first, then by name. */
export function findGenerationFiles(names: readonly string[]): GenerationFiles {
  const present = new Set(names);
  const models = names
    .filter((n) => n.toLowerCase().endsWith('.onnx'))
    .sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((model) => {
      const data: string[] = [];
      while (present.has(dataFileName(model, data.length))) data.push(dataFileName(model, data.length));
      return { model, data };
    });
  const top = (name: string) => (present.has(name) ? name : undefined);
  return {
    models,
    config: top('config.json'),
    generationConfig: top('generation_config.json'),
    tokenizer: top('tokenizer.json'),
    tokenizerConfig: top('tokenizer_config.json'),
  };
}

const depth = (name: string) => name.split('/').length;

export interface GenerationSettings {
  kv: KvShape;
  vocabSize?: number;
  maxPositions?: number;
  /** End-of-sequence ids: generation stops after one of them. */
  stopIds: number[];
}

type Json = Record<string, unknown>;

/**
 * Reads the KV cache shape and limits from config.json (BitNet's own or the llama-style one the
 * converter writes, which keeps the original under `bitnet2onnx.original_config`), and the stop ids
 * from generation_config.json, falling back to config.json.
 */
export function generationSettings(config: Json, generationConfig?: Json): GenerationSettings {
  const int = (key: string): number | undefined => {
    const v = config[key];
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  };
  const heads = int('num_attention_heads');
  const hidden = int('hidden_size');
  const numKvHeads = int('num_key_value_heads') ?? heads;
  const headDim = int('head_dim') ?? (heads && hidden ? hidden / heads : undefined);
  if (!numKvHeads || !headDim || !Number.isInteger(headDim)) {
    throw new Error(
      'config.json: cannot tell the KV cache shape: expected num_key_value_heads (or num_attention_heads) ' +
        `and head_dim (or hidden_size divisible by num_attention_heads), found ${describe(config, [
          'num_key_value_heads',
          'num_attention_heads',
          'head_dim',
          'hidden_size',
        ])}`,
    );
  }
  const eos = generationConfig?.eos_token_id ?? config.eos_token_id;
  const stopIds = (Array.isArray(eos) ? eos : [eos]).filter(
    (v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0,
  );
  return {
    kv: { numKvHeads, headDim },
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings'),
    stopIds,
  };
}

function describe(config: Json, keys: string[]): string {
  return keys.map((k) => `${k}=${JSON.stringify(config[k] ?? null)}`).join(', ');
}

/**
 * Token ids typed by a person: integers separated by commas and/or spaces (`5,17,99`). Each must be
 * below `vocabSize` when it is known.
 */
export function parseTokenIds(text: string, vocabSize?: number): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) throw new RangeError('type token ids separated by commas, e.g. 5,17,99');
  return parts.map((p) => {
    const id = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!Number.isSafeInteger(id)) throw new RangeError(`“${p}” is not a token id (a whole number ≥ 0)`);
    if (vocabSize !== undefined && id >= vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0–${vocabSize - 1})`);
    }
    return id;
  });
}
