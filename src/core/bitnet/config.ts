import { ConversionError } from '../errors.ts';
import type { BitNetDims, QuantVariant } from './dims.ts';

/** What config.json says about quantisation, before the tensors confirm it. */
export interface QuantConfig {
  linearClass: 'autobitlinear' | 'bitlinear';
  mode: 'offline' | 'online';
}

export interface ParsedConfig {
  /** Dimensions the config fixes; absent fields are filled from the tensors later. */
  dims: Partial<BitNetDims>;
  quant: QuantConfig;
  /** The config.json object as read, kept to copy through to model folders. */
  raw: Record<string, unknown>;
}

/** Values of the released 2B-4T model, used only where neither config nor tensors say (and logged). */
export const DEFAULTS_2B4T = {
  headDim: 128,
  ropeTheta: 500000,
  rmsNormEps: 1e-5,
  maxPositions: 4096,
} as const;

type Json = Record<string, unknown>;

export function parseConfigJson(text: string, file = 'config.json'): ParsedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConversionError(`invalid JSON (${(e as Error).message})`, { file });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConversionError('not a JSON object', { file, expected: 'an object', found: typeof raw });
  }
  const cfg = raw as Json;
  checkArchitecture(cfg, file);
  return { dims: readDims(cfg, file), quant: readQuant(cfg, file), raw: cfg };
}

function checkArchitecture(cfg: Json, file: string): void {
  const modelType = cfg.model_type;
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures : [];
  const isBitNet = modelType === 'bitnet' || archs.includes('BitNetForCausalLM');
  if (!isBitNet) {
    throw new ConversionError('unsupported architecture', {
      file,
      expected: 'model_type "bitnet" (BitNetForCausalLM)',
      found: `model_type ${JSON.stringify(modelType)}, architectures ${JSON.stringify(archs)}`,
    });
  }
  const act = cfg.hidden_act ?? 'relu2';
  if (act !== 'relu2') {
    throw new ConversionError('unsupported activation', {
      file,
      expected: 'hidden_act "relu2"',
      found: JSON.stringify(act),
    });
  }
  const scaling = cfg.rope_scaling as Json | null | undefined;
  const scalingType = scaling?.rope_type ?? scaling?.type;
  if (scaling && scalingType !== 'default') {
    throw new ConversionError('unsupported rope_scaling', {
      file,
      expected: 'none',
      found: JSON.stringify(scaling),
    });
  }
}

function readQuant(cfg: Json, file: string): QuantConfig {
  const q = cfg.quantization_config as Json | undefined;
  if (q === undefined || q === null) return { linearClass: 'autobitlinear', mode: 'offline' };
  if (typeof q !== 'object') {
    throw new ConversionError('invalid quantization_config', {
      file,
      expected: 'an object',
      found: JSON.stringify(q),
    });
  }
  if (q.quant_method !== undefined && q.quant_method !== 'bitnet') {
    throw new ConversionError('unsupported quantization', {
      file,
      expected: 'quant_method "bitnet"',
      found: JSON.stringify(q.quant_method),
    });
  }
  const cls = q.linear_class ?? 'bitlinear';
  if (cls !== 'autobitlinear' && cls !== 'bitlinear') {
    throw new ConversionError('unsupported linear_class', {
      file,
      expected: '"autobitlinear" or "bitlinear"',
      found: JSON.stringify(cls),
    });
  }
  const mode = q.quantization_mode ?? 'offline';
  if (mode !== 'offline' && mode !== 'online') {
    throw new ConversionError('unsupported quantization_mode', {
      file,
      expected: '"offline" or "online"',
      found: JSON.stringify(mode),
    });
  }
  return { linearClass: cls, mode };
}

function readDims(cfg: Json, file: string): Partial<BitNetDims> {
  const int = (key: string): number | undefined => {
    const v = cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new ConversionError(`invalid ${key}`, {
        file,
        expected: 'a positive integer',
        found: JSON.stringify(v),
      });
    }
    return v;
  };
  const num = (key: string): number | undefined => {
    const v = cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !(v > 0)) {
      throw new ConversionError(`invalid ${key}`, {
        file,
        expected: 'a positive number',
        found: JSON.stringify(v),
      });
    }
    return v;
  };
  const dims: Partial<BitNetDims> = {
    hiddenSize: int('hidden_size'),
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads: int('num_attention_heads'),
    numKvHeads: int('num_key_value_heads'),
    headDim: int('head_dim'),
    vocabSize: int('vocab_size'),
    maxPositions: int('max_position_embeddings'),
    ropeTheta: num('rope_theta'),
    rmsNormEps: num('rms_norm_eps'),
  };
  if (typeof cfg.tie_word_embeddings === 'boolean') dims.tiedEmbeddings = cfg.tie_word_embeddings;
  return dims;
}

/** The variant follows from the config and the dtype of the projection weights (docs/spec.md §1). */
export function detectVariant(quant: QuantConfig, projectionDtype: string): QuantVariant {
  if (projectionDtype === 'U8')
    return quant.linearClass === 'autobitlinear' ? 'packed-autobitlinear' : 'packed-bitlinear';
  return 'online-bf16';
}
