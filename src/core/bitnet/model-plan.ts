import { ConversionError } from '../errors.ts';
import type { Checkpoint, TensorInfo } from '../safetensors/checkpoint.ts';
import { DEFAULTS_2B4T, detectVariant, type ParsedConfig } from './config.ts';
import {
  PROJECTIONS,
  projectionShape,
  projectionTensorName,
  type BitNetDims,
  type ProjectionName,
  type QuantVariant,
  type ScaleRule,
} from './dims.ts';

/** A projection's source tensors and how its accumulator is scaled. */
export interface ProjectionSource {
  layer: number;
  proj: ProjectionName;
  /** U8 packed [out/4, in] for packed variants; float [out, in] master weights for online. */
  weight: TensorInfo;
  /** `.weight_scale` [1] for packed variants; absent for online (the scale is computed). */
  scale?: TensorInfo;
  shape: [number, number];
}

export interface LayerSources {
  inputNorm: TensorInfo;
  postAttnNorm: TensorInfo;
  attnSubNorm: TensorInfo;
  ffnSubNorm: TensorInfo;
  proj: Record<ProjectionName, ProjectionSource>;
}

/** Everything the converter will read, resolved and shape-checked before any byte is written. */
export interface ModelPlan {
  dims: BitNetDims;
  variant: QuantVariant;
  scaleRule: ScaleRule;
  embed: TensorInfo;
  finalNorm: TensorInfo;
  lmHead?: TensorInfo;
  layers: LayerSources[];
  /** Things said about the plan that a user should see (defaults assumed, tensors ignored). */
  notes: string[];
}

const FLOAT_DTYPES = new Set(['BF16', 'F16', 'F32']);
const EMBED_NAMES = ['model.embed_tokens.weight', 'embed_tokens.weight'];

export function scaleRuleOf(variant: QuantVariant): ScaleRule {
  return variant === 'packed-autobitlinear' ? 'multiply' : 'divide';
}

/** Past this many missing tensors the count stops: the message shows the first few anyway. */
const MAX_MISSING_COUNTED = 1000;

export function planModel(ckpt: Checkpoint, config: ParsedConfig | undefined, configFile: string): ModelPlan {
  const notes: string[] = [];
  const fileOf = (t: TensorInfo | undefined) => t?.source.name ?? ckpt.files[0];
  const embed = EMBED_NAMES.map((n) => ckpt.get(n)).find(Boolean);
  if (!embed) {
    throw new ConversionError('missing tensor', {
      file: ckpt.files.join(', '),
      tensor: EMBED_NAMES[0],
      expected: `one of ${EMBED_NAMES.join(' or ')}`,
      found: 'neither',
    });
  }
  const q0 = ckpt.get(`${projectionTensorName(0, 'q_proj')}.weight`);
  const dims = resolveDims(ckpt, config, embed, q0, notes);
  const quant = config?.quant ?? { linearClass: 'autobitlinear' as const, mode: 'offline' as const };
  if (!config)
    notes.push('no config.json: assuming the released 2B-4T packing (autobitlinear, offline scales)');
  const variant = detectVariant(quant, q0?.dtype ?? 'U8');
  if (variant !== 'online-bf16' && quant.mode === 'online') {
    throw new ConversionError('quantisation config contradicts the weights', {
      file: configFile,
      tensor: q0?.name,
      expected: 'float master weights for quantization_mode "online"',
      found: 'packed U8 weights',
    });
  }

  const missing: string[] = [];
  const want = (name: string): TensorInfo => {
    const t = ckpt.get(name);
    if (!t) missing.push(name);
    return t as TensorInfo;
  };
  const finalNorm = want('model.norm.weight');
  const layers: LayerSources[] = [];
  // A config claiming far more layers than the checkpoint holds (num_hidden_layers 2^53) must be
  // refused after a few missing layers, not after building a plan for each claimed one.
  let gaveUp = false;
  for (let i = 0; i < dims.numLayers; i++) {
    if (missing.length >= MAX_MISSING_COUNTED) {
      gaveUp = true;
      break;
    }
    const p = `model.layers.${i}`;
    const proj = {} as Record<ProjectionName, ProjectionSource>;
    for (const name of PROJECTIONS) {
      const base = projectionTensorName(i, name);
      proj[name] = {
        layer: i,
        proj: name,
        weight: want(`${base}.weight`),
        scale: variant === 'online-bf16' ? undefined : want(`${base}.weight_scale`),
        shape: projectionShape(dims, name),
      };
    }
    layers.push({
      inputNorm: want(`${p}.input_layernorm.weight`),
      postAttnNorm: want(`${p}.post_attention_layernorm.weight`),
      attnSubNorm: want(`${p}.self_attn.attn_sub_norm.weight`),
      ffnSubNorm: want(`${p}.mlp.ffn_sub_norm.weight`),
      proj,
    });
  }
  let lmHead = ckpt.get('lm_head.weight');
  if (dims.tiedEmbeddings && lmHead) {
    notes.push('tie_word_embeddings is true: lm_head.weight is ignored and the embedding serves as the head');
    lmHead = undefined;
  } else if (!dims.tiedEmbeddings && !lmHead) {
    missing.push('lm_head.weight');
  }
  if (missing.length > 0) {
    const shown =
      missing.slice(0, 8).join(', ') + (missing.length > 8 ? `, … (${missing.length} in all)` : '');
    if (gaveUp) {
      throw new ConversionError(`missing ${missing.length} or more tensors: ${shown}`, {
        file: ckpt.files.join(', '),
        expected: `the tensors of ${dims.numLayers} layers (num_hidden_layers)`,
        found: 'far fewer layers in the checkpoint',
      });
    }
    throw new ConversionError(`missing ${missing.length} tensor${missing.length > 1 ? 's' : ''}: ${shown}`, {
      file: ckpt.files.join(', '),
    });
  }

  const plan: ModelPlan = {
    dims,
    variant,
    scaleRule: scaleRuleOf(variant),
    embed,
    finalNorm,
    lmHead,
    layers,
    notes,
  };
  checkShapes(plan, fileOf);
  const used = usedTensorNames(plan);
  const ignored = [...ckpt.tensors.keys()].filter((n) => !used.has(n));
  if (ignored.length > 0)
    notes.push(
      `ignored ${ignored.length} tensor(s) the model does not use: ${ignored.slice(0, 5).join(', ')}`,
    );
  return plan;
}

function resolveDims(
  ckpt: Checkpoint,
  config: ParsedConfig | undefined,
  embed: TensorInfo,
  q0: TensorInfo | undefined,
  notes: string[],
): BitNetDims {
  const c = config?.dims ?? {};
  const [vocabFromTensor, hiddenFromTensor] = embed.shape;
  const layersFromTensors = countLayers(ckpt);
  const packedRows = (t: TensorInfo | undefined) =>
    t ? (t.dtype === 'U8' ? t.shape[0] * 4 : t.shape[0]) : undefined;
  const gate = ckpt.get(`${projectionTensorName(0, 'gate_proj')}.weight`);
  const kProj = ckpt.get(`${projectionTensorName(0, 'k_proj')}.weight`);
  const assumed: string[] = [];
  const pick = <K extends keyof BitNetDims>(
    key: K,
    inferred: BitNetDims[K] | undefined,
    fallback?: BitNetDims[K],
  ) => {
    if (c[key] !== undefined) return c[key] as BitNetDims[K];
    if (inferred !== undefined) return inferred;
    if (fallback !== undefined) {
      assumed.push(`${key}=${String(fallback)}`);
      return fallback;
    }
    throw new ConversionError(`cannot determine ${key}`, {
      file: 'config.json',
      expected: `a value for ${key}`,
    });
  };
  const hiddenSize = pick('hiddenSize', hiddenFromTensor);
  const headDim = pick('headDim', c.numHeads ? hiddenSize / c.numHeads : undefined, DEFAULTS_2B4T.headDim);
  const qRows = packedRows(q0);
  const dims: BitNetDims = {
    hiddenSize,
    intermediateSize: pick('intermediateSize', packedRows(gate)),
    numLayers: pick('numLayers', layersFromTensors),
    numHeads: pick('numHeads', qRows !== undefined ? qRows / headDim : undefined),
    numKvHeads:
      c.numKvHeads ??
      (c.numHeads && !kProj
        ? c.numHeads
        : pick('numKvHeads', kProj ? packedRows(kProj)! / headDim : undefined)),
    headDim,
    vocabSize: pick('vocabSize', vocabFromTensor),
    maxPositions: pick('maxPositions', undefined, DEFAULTS_2B4T.maxPositions),
    ropeTheta: pick('ropeTheta', undefined, DEFAULTS_2B4T.ropeTheta),
    rmsNormEps: pick('rmsNormEps', undefined, DEFAULTS_2B4T.rmsNormEps),
    tiedEmbeddings: c.tiedEmbeddings ?? !ckpt.get('lm_head.weight'),
  };
  if (assumed.length > 0)
    notes.push(`not given by config.json, assumed the 2B-4T values: ${assumed.join(', ')}`);
  if (
    !Number.isInteger(dims.numHeads) ||
    !Number.isInteger(dims.numKvHeads) ||
    dims.numHeads % dims.numKvHeads !== 0
  ) {
    if (c.numHeads === undefined) {
      throw new ConversionError('cannot infer the attention heads without config.json; pass --config', {
        tensor: q0?.name,
        expected: `q_proj rows a multiple of head_dim ${headDim}${c.headDim === undefined ? ' (the 2B-4T value, assumed)' : ''}`,
        found: `${qRows} rows`,
      });
    }
    throw new ConversionError('inconsistent attention heads', {
      file: 'config.json',
      expected: 'num_attention_heads a whole multiple of num_key_value_heads',
      found: `${dims.numHeads} heads, ${dims.numKvHeads} kv heads`,
    });
  }
  if (dims.headDim % 2 !== 0) {
    throw new ConversionError('head_dim must be even for rotary embeddings', {
      file: 'config.json',
      found: String(dims.headDim),
    });
  }
  return dims;
}

function countLayers(ckpt: Checkpoint): number | undefined {
  let max = -1;
  for (const name of ckpt.tensors.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max >= 0 ? max + 1 : undefined;
}

function expectShape(t: TensorInfo, shape: number[], dtypes: Set<string>, file: string | undefined): void {
  const ok = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!ok) {
    throw new ConversionError('shape does not match the config', {
      file,
      tensor: t.name,
      expected: `[${shape.join(', ')}]`,
      found: `[${t.shape.join(', ')}]`,
    });
  }
  if (!dtypes.has(t.dtype)) {
    throw new ConversionError('unexpected dtype', {
      file,
      tensor: t.name,
      expected: [...dtypes].join(' or '),
      found: t.dtype,
    });
  }
}

function checkShapes(plan: ModelPlan, fileOf: (t: TensorInfo) => string | undefined): void {
  const { dims } = plan;
  const check = (t: TensorInfo, shape: number[], dtypes = FLOAT_DTYPES) =>
    expectShape(t, shape, dtypes, fileOf(t));
  check(plan.embed, [dims.vocabSize, dims.hiddenSize]);
  check(plan.finalNorm, [dims.hiddenSize]);
  if (plan.lmHead) check(plan.lmHead, [dims.vocabSize, dims.hiddenSize]);
  for (const layer of plan.layers) {
    check(layer.inputNorm, [dims.hiddenSize]);
    check(layer.postAttnNorm, [dims.hiddenSize]);
    check(layer.attnSubNorm, [dims.numHeads * dims.headDim]);
    check(layer.ffnSubNorm, [dims.intermediateSize]);
    for (const p of Object.values(layer.proj)) {
      const [out, inp] = p.shape;
      if (plan.variant === 'online-bf16') {
        check(p.weight, [out, inp]);
      } else {
        if (out % 4 !== 0) {
          throw new ConversionError('packed projection rows must be a multiple of 4', {
            file: fileOf(p.weight),
            tensor: p.weight.name,
            found: String(out),
          });
        }
        check(p.weight, [out / 4, inp], new Set(['U8']));
        // transformers saves the scale as [1]; other exporters write a scalar [].
        check(p.scale!, p.scale!.shape.length === 0 ? [] : [1]);
      }
    }
  }
}

export function usedTensorNames(plan: ModelPlan): Set<string> {
  const names = [plan.embed, plan.finalNorm, plan.lmHead];
  for (const l of plan.layers) {
    names.push(l.inputNorm, l.postAttnNorm, l.attnSubNorm, l.ffnSubNorm);
    for (const p of Object.values(l.proj)) names.push(p.weight, p.scale);
  }
  return new Set(names.filter((t): t is TensorInfo => Boolean(t)).map((t) => t.name));
}
