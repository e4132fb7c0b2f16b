/**
 * Deterministic synthetic BitNet b1.58 checkpoints (docs/spec.md §1, §3) for tests, the browser sample
 * and the benchmark. Every tensor is generated in fixed-size chunks inside its `fill`, from a PRNG
 * seeded by (seed, tensor name), so a 2B-4T-sized checkpoint streams in a few MiB of memory and the
 * same options always give the same bytes.
 */
import type { SafetensorsTensorSpec } from '../safetensors/writer.ts';
import {
  PROJECTIONS,
  projectionShape,
  projectionTensorName,
  type BitNetDims,
  type ProjectionName,
  type QuantVariant,
} from './dims.ts';

export interface SyntheticOptions {
  dims: BitNetDims;
  variant: QuantVariant;
  seed: number;
  embedName?: 'model.embed_tokens.weight' | 'embed_tokens.weight';
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface SyntheticCheckpoint {
  /** A config.json for the variant, shaped like the released model's. */
  config: Record<string, unknown>;
  tensors: SafetensorsTensorSpec[];
}

/** microsoft/bitnet-b1.58-2B-4T (docs/spec.md §3). */
export const BITNET_2B_4T_DIMS: BitNetDims = {
  hiddenSize: 2560,
  intermediateSize: 6912,
  numLayers: 30,
  numHeads: 20,
  numKvHeads: 5,
  headDim: 128,
  vocabSize: 128256,
  maxPositions: 4096,
  ropeTheta: 500000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

/** Bytes generated per emit: large enough to amortise calls, small enough to stay cache- and memory-light. */
const CHUNK_BYTES = 1 << 20;

export function syntheticCheckpoint(opts: SyntheticOptions): SyntheticCheckpoint {
  checkPackable(opts.dims, opts.variant);
  return { config: syntheticConfig(opts), tensors: syntheticTensors(opts) };
}

export function syntheticConfig(opts: SyntheticOptions): Record<string, unknown> {
  const { dims, variant } = opts;
  const large = dims.vocabSize > 128001;
  const config: Record<string, unknown> = {
    architectures: ['BitNetForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: opts.bosTokenId ?? (large ? 128000 : 1),
    eos_token_id: opts.eosTokenId ?? (large ? 128001 : 2),
    hidden_act: 'relu2',
    hidden_size: dims.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: dims.intermediateSize,
    max_position_embeddings: dims.maxPositions,
    model_type: 'bitnet',
    num_attention_heads: dims.numHeads,
    num_hidden_layers: dims.numLayers,
    num_key_value_heads: dims.numKvHeads,
    rms_norm_eps: dims.rmsNormEps,
    rope_scaling: null,
    rope_theta: dims.ropeTheta,
    tie_word_embeddings: dims.tiedEmbeddings,
    torch_dtype: 'bfloat16',
    use_cache: true,
    vocab_size: dims.vocabSize,
    quantization_config: {
      quant_method: 'bitnet',
      linear_class: variant === 'packed-bitlinear' ? 'bitlinear' : 'autobitlinear',
      quantization_mode: variant === 'online-bf16' ? 'online' : 'offline',
    },
  };
  // The released config leaves head_dim implicit (hidden / heads); state it only when it differs.
  if (dims.headDim * dims.numHeads !== dims.hiddenSize) config.head_dim = dims.headDim;
  return config;
}

function syntheticTensors(opts: SyntheticOptions): SafetensorsTensorSpec[] {
  const { dims, seed } = opts;
  const h = dims.hiddenSize;
  const embedding: Distribution = { normalStd: 0.5 };
  const norm: Distribution = { uniform: [0.5, 1.5] };
  const tensors = [
    bf16Tensor(opts.embedName ?? 'model.embed_tokens.weight', [dims.vocabSize, h], seed, embedding),
  ];
  for (let layer = 0; layer < dims.numLayers; layer++) {
    const layerNorm = (name: string, size: number) =>
      bf16Tensor(`model.layers.${layer}.${name}.weight`, [size], seed, norm);
    const proj = (p: ProjectionName) =>
      projectionTensors(opts, projectionTensorName(layer, p), projectionShape(dims, p));
    // Model order, so a streaming reader meets tensors roughly as the forward pass needs them.
    tensors.push(
      layerNorm('input_layernorm', h),
      ...proj('q_proj'),
      ...proj('k_proj'),
      ...proj('v_proj'),
      // It normalises the concatenated heads (docs/spec.md §2): not hidden wide when config.json sets head_dim.
      layerNorm('self_attn.attn_sub_norm', dims.numHeads * dims.headDim),
      ...proj('o_proj'),
      layerNorm('post_attention_layernorm', h),
      ...proj('gate_proj'),
      ...proj('up_proj'),
      layerNorm('mlp.ffn_sub_norm', dims.intermediateSize),
      ...proj('down_proj'),
    );
  }
  tensors.push(bf16Tensor('model.norm.weight', [h], seed, norm));
  if (!dims.tiedEmbeddings) tensors.push(bf16Tensor('lm_head.weight', [dims.vocabSize, h], seed, embedding));
  return tensors;
}

function projectionTensors(
  opts: SyntheticOptions,
  name: string,
  [out, inFeatures]: [number, number],
): SafetensorsTensorSpec[] {
  if (opts.variant === 'online-bf16') {
    // Master weights with mean|W| of order one, so online ternarisation lands near the packed scales.
    const sigma = new Prng(tensorSeed(opts.seed, `${name}.sigma`)).uniform(0.5, 2);
    return [bf16Tensor(`${name}.weight`, [out, inFeatures], opts.seed, { normalStd: sigma })];
  }
  return [
    packedTernaryTensor(`${name}.weight`, [out / 4, inFeatures], opts.seed),
    bf16Tensor(`${name}.weight_scale`, [1], opts.seed, { uniform: [0.5, 2] }),
  ];
}

function checkPackable(dims: BitNetDims, variant: QuantVariant): void {
  if (variant === 'online-bf16') return;
  for (const proj of PROJECTIONS) {
    const [out] = projectionShape(dims, proj);
    if (out % 4 !== 0) throw new Error(`synthetic checkpoint: ${proj} has ${out} rows, not a multiple of 4`);
  }
}

/** What a BF16 tensor's elements are drawn from. */
type Distribution = { normalStd: number } | { uniform: [lo: number, hi: number] };

function bf16Tensor(name: string, shape: number[], seed: number, dist: Distribution): SafetensorsTensorSpec {
  const count = shape.reduce((a, b) => a * b, 1);
  const fill = chunkedFill(count * 2, () => {
    const rng = new Prng(tensorSeed(seed, name));
    const values = new Float32Array(Math.min(count, CHUNK_BYTES / 2));
    return (out) => {
      const chunk = values.subarray(0, out.length / 2);
      if ('normalStd' in dist) rng.fillNormalish(chunk, dist.normalStd);
      else rng.fillUniform(chunk, dist.uniform[0], dist.uniform[1]);
      encodeBf16(chunk, out);
    };
  });
  return { name, dtype: 'BF16', shape, byteLength: count * 2, fill };
}

/**
 * U8 [out/4, in] in the transformers packing: four 2-bit codes per byte, each 0, 1 or 2. Codes are
 * -1/0/+1 with probability 1/4, 1/2, 1/4, about the share of zeros real BitNet weights have.
 */
function packedTernaryTensor(name: string, shape: [number, number], seed: number): SafetensorsTensorSpec {
  const count = shape[0] * shape[1];
  const fill = chunkedFill(count, () => {
    const rng = new Prng(tensorSeed(seed, name));
    return (out) => rng.fillPackedTernary(out);
  });
  return { name, dtype: 'U8', shape, byteLength: count, fill };
}

/**
 * A fill that emits `totalBytes` in CHUNK_BYTES pieces of one reused buffer (a sink keeps no reference
 * once its write settles). `start` makes a fresh generator per call, so every fill replays the same bytes.
 */
function chunkedFill(
  totalBytes: number,
  start: () => (out: Uint8Array) => void,
): SafetensorsTensorSpec['fill'] {
  return async (emit) => {
    const generate = start();
    const buffer = new Uint8Array(Math.min(totalBytes, CHUNK_BYTES));
    for (let done = 0; done < totalBytes;) {
      const piece = buffer.subarray(0, Math.min(buffer.length, totalBytes - done));
      generate(piece);
      await emit(piece);
      done += piece.length;
    }
  };
}

/** Any random byte made valid: each 2-bit field holding the never-used code 3 becomes 1 (zero). */
const VALID_PACKED_BYTE = Uint8Array.from({ length: 256 }, (_, b) => {
  let out = 0;
  for (let shift = 0; shift < 8; shift += 2) {
    const code = (b >> shift) & 3;
    out |= (code === 3 ? 1 : code) << shift;
  }
  return out;
});

const f32Scratch = new Float32Array(1);
const i32Scratch = new Int32Array(f32Scratch.buffer);

/** float32 → bfloat16 bits, rounding to nearest, ties to even; NaN stays a (quiet) NaN. */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  return bf16FromF32Bits(i32Scratch[0]);
}

/** Little-endian bf16 bytes of `values` into `out` (2 bytes per value). */
export function encodeBf16(values: Float32Array, out: Uint8Array): void {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bf16FromF32Bits(bits[i]);
    out[2 * i] = b & 255;
    out[2 * i + 1] = b >>> 8;
  }
}

/** `u`: float32 bits as a signed int32 (sign in bit 31), as an Int32Array view yields them. */
function bf16FromF32Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) | 0) >>> 16;
}

/** Seeds each tensor's stream from the model seed and its name, so tensors are independent and stable. */
function tensorSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

const GOLDEN = 0x9e3779b9;

/**
 * A 32-bit avalanche mix (murmur3's finaliser): turns a Weyl sequence into well-spread bits. Returns
 * a signed int32 so V8 keeps it in a small-integer register (uint32 above 2³¹ would become a double).
 */
function mix32(x: number): number {
  let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return z ^ (z >>> 16);
}

/**
 * Weyl sequence through a 32-bit avalanche mix: a few integer ops per draw, which matters when a
 * benchmark checkpoint needs billions of them. The bulk fills keep the state in a local so the loops
 * stay tight. Statistical quality far beyond what test data needs.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  nextU32(): number {
    this.state = (this.state + GOLDEN) | 0;
    return mix32(this.state) >>> 0;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * (this.nextU32() / 4294967296);
  }

  fillUniform(out: Float32Array, lo: number, hi: number): void {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
  }

  /**
   * Roughly N(0, std²): the four bytes of one draw summed (Irwin–Hall), centred and scaled. Bounded
   * at about ±3.5σ and far cheaper than Box–Muller, which is what the GB-sized embeddings need.
   */
  fillNormalish(out: Float32Array, std: number): void {
    const k = std / 147.8; // 147.8 ≈ standard deviation of a sum of four uniform bytes
    let s = this.state;
    for (let i = 0; i < out.length; i++) {
      s = (s + GOLDEN) | 0;
      const u = mix32(s);
      out[i] = ((u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510) * k;
    }
    this.state = s;
  }

  /** Valid transformers-packed bytes, four per draw. */
  fillPackedTernary(out: Uint8Array): void {
    let s = this.state;
    for (let i = 0; i < out.length; i += 4) {
      s = (s + GOLDEN) | 0;
      const u = mix32(s);
      out[i] = VALID_PACKED_BYTE[u & 255];
      out[i + 1] = VALID_PACKED_BYTE[(u >>> 8) & 255];
      out[i + 2] = VALID_PACKED_BYTE[(u >>> 16) & 255];
      out[i + 3] = VALID_PACKED_BYTE[u >>> 24];
    }
    this.state = s;
  }
}
