/** The synthetic checkpoint generator (src/core/bitnet/synthetic.ts), which every fixture stands on. */
import { describe, expect, it } from 'vitest';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import {
  BITNET_2B_4T_DIMS,
  encodeBf16,
  f32ToBf16Bits,
  Prng,
  syntheticCheckpoint,
} from '../../src/core/bitnet/synthetic.ts';
import { encodeSafetensorsHeader, type SafetensorsTensorSpec } from '../../src/core/safetensors/writer.ts';
import { TINY_DIMS } from '../../scripts/make-fixtures.ts';

async function collect(t: SafetensorsTensorSpec): Promise<{ bytes: Uint8Array; pieces: number[] }> {
  const out = new Uint8Array(t.byteLength);
  const pieces: number[] = [];
  await t.fill(async (b) => {
    out.set(
      b,
      pieces.reduce((a, n) => a + n, 0),
    );
    pieces.push(b.length);
  });
  return { bytes: out, pieces };
}

function bf16Values(bytes: Uint8Array): number[] {
  const u32 = new Uint32Array(1);
  const f32 = new Float32Array(u32.buffer);
  return Array.from({ length: bytes.length / 2 }, (_, i) => {
    u32[0] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16;
    return f32[0];
  });
}

const byName = (tensors: SafetensorsTensorSpec[]) => new Map(tensors.map((t) => [t.name, t]));

describe('syntheticCheckpoint: 2B-4T layout (docs/spec.md §3), without generating data', () => {
  const { config, tensors } = syntheticCheckpoint({
    dims: BITNET_2B_4T_DIMS,
    variant: 'packed-autobitlinear',
    seed: 1,
  });
  const t = byName(tensors);

  it('has the stored dtypes and shapes of the released packed checkpoint', () => {
    const shape = (name: string) => [t.get(name)?.dtype, t.get(name)?.shape];
    expect(shape('model.layers.7.self_attn.q_proj.weight')).toEqual(['U8', [640, 2560]]);
    expect(shape('model.layers.7.self_attn.o_proj.weight')).toEqual(['U8', [640, 2560]]);
    expect(shape('model.layers.7.self_attn.k_proj.weight')).toEqual(['U8', [160, 2560]]);
    expect(shape('model.layers.7.self_attn.v_proj.weight')).toEqual(['U8', [160, 2560]]);
    expect(shape('model.layers.7.mlp.gate_proj.weight')).toEqual(['U8', [1728, 2560]]);
    expect(shape('model.layers.7.mlp.up_proj.weight')).toEqual(['U8', [1728, 2560]]);
    expect(shape('model.layers.7.mlp.down_proj.weight')).toEqual(['U8', [640, 6912]]);
    expect(shape('model.layers.29.mlp.down_proj.weight_scale')).toEqual(['BF16', [1]]);
    expect(shape('model.layers.0.input_layernorm.weight')).toEqual(['BF16', [2560]]);
    expect(shape('model.layers.0.post_attention_layernorm.weight')).toEqual(['BF16', [2560]]);
    expect(shape('model.layers.0.self_attn.attn_sub_norm.weight')).toEqual(['BF16', [2560]]);
    expect(shape('model.layers.0.mlp.ffn_sub_norm.weight')).toEqual(['BF16', [6912]]);
    expect(shape('model.embed_tokens.weight')).toEqual(['BF16', [128256, 2560]]);
    expect(shape('model.norm.weight')).toEqual(['BF16', [2560]]);
    expect(t.has('lm_head.weight')).toBe(false);
    expect(tensors.length).toBe(1 + 30 * (4 + 7 * 2) + 1);
  });

  it('adds up to the released parameter count and file size', () => {
    const parameters = tensors
      .filter((x) => !x.name.endsWith('.weight_scale'))
      .reduce((n, x) => n + (x.dtype === 'U8' ? 4 * x.byteLength : x.byteLength / 2), 0);
    expect(parameters).toBe(2_412_820_480);
    // docs/spec.md §3: the ternary share follows from the layer shapes (not the 2,085,355,520 once quoted).
    const ternary = tensors.filter((x) => x.dtype === 'U8').reduce((n, x) => n + 4 * x.byteLength, 0);
    expect(ternary).toBe(2_084_044_800);
    const fileSize = encodeSafetensorsHeader(tensors).length + tensors.reduce((n, x) => n + x.byteLength, 0);
    // Same data bytes as the released 1,178,623,988-byte file; only the JSON header's spelling differs.
    expect(Math.abs(fileSize - 1_178_623_988)).toBeLessThan(8192);
  });

  it('writes a config.json shaped like the released one', () => {
    expect(config).toMatchObject({
      architectures: ['BitNetForCausalLM'],
      model_type: 'bitnet',
      hidden_act: 'relu2',
      hidden_size: 2560,
      intermediate_size: 6912,
      num_hidden_layers: 30,
      num_attention_heads: 20,
      num_key_value_heads: 5,
      vocab_size: 128256,
      max_position_embeddings: 4096,
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
      bos_token_id: 128000,
      eos_token_id: 128001,
      torch_dtype: 'bfloat16',
      quantization_config: {
        quant_method: 'bitnet',
        linear_class: 'autobitlinear',
        quantization_mode: 'offline',
      },
    });
    expect(config).not.toHaveProperty('head_dim');
  });
});

describe('syntheticCheckpoint: variants', () => {
  const tiny = (
    variant: 'packed-autobitlinear' | 'packed-bitlinear' | 'online-bf16',
    dims: Partial<BitNetDims> = {},
  ) => syntheticCheckpoint({ dims: { ...TINY_DIMS, ...dims }, variant, seed: 7 });

  it('legacy bitlinear says so in its config and keeps weight_scale', () => {
    const { config, tensors } = tiny('packed-bitlinear');
    expect(config.quantization_config).toEqual({
      quant_method: 'bitnet',
      linear_class: 'bitlinear',
      quantization_mode: 'offline',
    });
    expect(byName(tensors).get('model.layers.1.mlp.up_proj.weight_scale')?.dtype).toBe('BF16');
  });

  it('online bf16 stores BF16 [out, in] master weights and no scales', () => {
    const { config, tensors } = tiny('online-bf16');
    expect(config.quantization_config).toMatchObject({
      linear_class: 'autobitlinear',
      quantization_mode: 'online',
    });
    const q = byName(tensors).get('model.layers.0.self_attn.q_proj.weight');
    expect([q?.dtype, q?.shape]).toEqual(['BF16', [64, 64]]);
    expect(tensors.some((x) => x.name.endsWith('.weight_scale'))).toBe(false);
  });

  it('untied adds lm_head.weight; embedName renames the embedding', () => {
    const untied = syntheticCheckpoint({
      dims: { ...TINY_DIMS, tiedEmbeddings: false },
      variant: 'packed-autobitlinear',
      seed: 7,
    });
    expect(byName(untied.tensors).get('lm_head.weight')?.shape).toEqual([320, 64]);
    expect(untied.config.tie_word_embeddings).toBe(false);
    const noPrefix = syntheticCheckpoint({
      dims: TINY_DIMS,
      variant: 'packed-autobitlinear',
      seed: 7,
      embedName: 'embed_tokens.weight',
    });
    expect(noPrefix.tensors[0].name).toBe('embed_tokens.weight');
  });

  it('states head_dim only when it is not hidden / heads', () => {
    expect(tiny('packed-autobitlinear', { numHeads: 8, headDim: 8 }).config).not.toHaveProperty('head_dim');
    expect(tiny('packed-autobitlinear', { numHeads: 8, headDim: 16 }).config.head_dim).toBe(16);
  });

  it('refuses dims that cannot be packed four rows to a byte', () => {
    expect(() => tiny('packed-autobitlinear', { intermediateSize: 162 })).toThrow(/not a multiple of 4/);
    expect(() => tiny('online-bf16', { intermediateSize: 162 })).not.toThrow();
  });
});

describe('syntheticCheckpoint: data', () => {
  const opts = { dims: TINY_DIMS, variant: 'packed-autobitlinear' as const, seed: 3 };

  it('is deterministic per seed, and each fill can be replayed', async () => {
    const a = syntheticCheckpoint(opts).tensors;
    const b = syntheticCheckpoint(opts).tensors;
    const c = syntheticCheckpoint({ ...opts, seed: 4 }).tensors;
    for (let i = 0; i < a.length; i++) {
      const first = (await collect(a[i])).bytes;
      expect((await collect(b[i])).bytes).toEqual(first);
      expect((await collect(a[i])).bytes).toEqual(first);
      if (a[i].byteLength > 2) expect((await collect(c[i])).bytes).not.toEqual(first);
    }
  });

  it('packs only codes 0, 1, 2, with every code present', async () => {
    const seen = new Set<number>();
    for (const t of syntheticCheckpoint(opts).tensors.filter((x) => x.dtype === 'U8')) {
      for (const byte of (await collect(t)).bytes) {
        for (let shift = 0; shift < 8; shift += 2) seen.add((byte >> shift) & 3);
      }
    }
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('gives norms in [0.5, 1.5], scales in [0.5, 2] and embeddings around N(0, 0.5)', async () => {
    const t = byName(syntheticCheckpoint(opts).tensors);
    const norm = bf16Values((await collect(t.get('model.layers.1.mlp.ffn_sub_norm.weight')!)).bytes);
    expect(Math.min(...norm)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...norm)).toBeLessThanOrEqual(1.5);
    const scale = bf16Values((await collect(t.get('model.layers.1.mlp.down_proj.weight_scale')!)).bytes)[0];
    expect(scale).toBeGreaterThanOrEqual(0.5);
    expect(scale).toBeLessThanOrEqual(2);
    const embed = bf16Values((await collect(t.get('model.embed_tokens.weight')!)).bytes);
    const mean = embed.reduce((a, b) => a + b, 0) / embed.length;
    const std = Math.sqrt(embed.reduce((a, b) => a + (b - mean) ** 2, 0) / embed.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.45);
    expect(std).toBeLessThan(0.55);
  });

  it('streams large tensors in bounded pieces', async () => {
    const big = syntheticCheckpoint({
      dims: { ...TINY_DIMS, vocabSize: 4096, hiddenSize: 320 },
      variant: 'online-bf16',
      seed: 1,
    });
    const { pieces } = await collect(big.tensors[0]);
    expect(pieces).toEqual([1 << 20, 1 << 20, 4096 * 320 * 2 - 2 * (1 << 20)]);
  });
});

describe('bf16 encoding', () => {
  const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];

  it.each([
    [1, 0x3f80],
    [-2, 0xc000],
    [-0, 0x8000],
    [bits(0x3f808000), 0x3f80], // tie, even stays
    [bits(0x3f818000), 0x3f82], // tie, odd rounds up to even
    [bits(0x3f808001), 0x3f81], // just above the tie
    [bits(0x3f807fff), 0x3f80], // just below the tie
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [bits(0x7f7fffff), 0x7f80], // largest float32 rounds to infinity
    [bits(0x00000001), 0x0000], // smallest subnormal rounds to zero
  ])('rounds %s to nearest even as 0x%s', (x, expected) => {
    expect(f32ToBf16Bits(x).toString(16)).toBe(expected.toString(16));
  });

  it('keeps NaN a NaN', () => {
    const b = f32ToBf16Bits(bits(0x7f800001));
    expect(b & 0x7f80).toBe(0x7f80);
    expect(b & 0x7f).not.toBe(0);
  });

  it('writes little-endian pairs', () => {
    const out = new Uint8Array(4);
    encodeBf16(new Float32Array([1, -2]), out);
    expect([...out]).toEqual([0x80, 0x3f, 0x00, 0xc0]);
  });
});

describe('Prng', () => {
  it('is reproducible and spreads over [0, 1)', () => {
    const a = new Prng(9);
    const b = new Prng(9);
    const draws = Array.from({ length: 10000 }, () => a.uniform());
    expect(Array.from({ length: 10000 }, () => b.uniform())).toEqual(draws);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    const mean = draws.reduce((x, y) => x + y, 0) / draws.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });
});
