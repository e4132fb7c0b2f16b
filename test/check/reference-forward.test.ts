import { describe, expect, it } from 'vitest';
import { PROJECTIONS, projectionShape, type BitNetDims, type ScaleRule } from '../../src/core/bitnet/dims.ts';
import {
  argmaxRow,
  greedyGenerate,
  quantizeActivations,
  ReferenceDecoder,
  referenceForward,
  roundHalfEven,
  type ReferenceLayer,
  type ReferenceProjection,
  type ReferenceWeights,
} from '../../src/core/check/reference-forward.ts';
import {
  applyRopeInPlace,
  bitLinear,
  kvHeadFor,
  rmsNorm,
  ropeAngles,
  ropeInverseFrequencies,
  softmaxInPlace,
} from '../../src/core/check/reference-math.ts';

const f32 = Math.fround;

/** mulberry32: a tiny seeded PRNG, so every test model is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DIMS: BitNetDims = {
  hiddenSize: 64,
  intermediateSize: 96,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  vocabSize: 50,
  maxPositions: 128,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

function uniform(rand: () => number, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

function ternary(rand: () => number, n: number): Int8Array {
  return Int8Array.from({ length: n }, () => Math.floor(rand() * 3) - 1);
}

interface ModelOptions {
  rule?: ScaleRule;
  /** Scale of each projection given a random number; defaults to an absmean-like value near 1. */
  scale?: (rand: () => number, rule: ScaleRule) => number;
}

const defaultScale = (rand: () => number, rule: ScaleRule) => {
  const meanAbs = 0.5 + rand();
  return f32(rule === 'multiply' ? meanAbs : 1 / meanAbs);
};

function makeLayer(d: BitNetDims, rand: () => number, opts: ModelOptions): ReferenceLayer {
  const rule = opts.rule ?? 'multiply';
  const scale = opts.scale ?? defaultScale;
  const proj = {} as Record<(typeof PROJECTIONS)[number], ReferenceProjection>;
  for (const name of PROJECTIONS) {
    const [out, inF] = projectionShape(d, name);
    proj[name] = { ternary: ternary(rand, out * inF), scale: scale(rand, rule), rule };
  }
  return {
    inputNorm: uniform(rand, d.hiddenSize, 0.5, 1.5),
    postAttnNorm: uniform(rand, d.hiddenSize, 0.5, 1.5),
    attnSubNorm: uniform(rand, d.numHeads * d.headDim, 0.5, 1.5),
    ffnSubNorm: uniform(rand, d.intermediateSize, 0.5, 1.5),
    proj,
  };
}

function makeWeights(d: BitNetDims, seed: number, opts: ModelOptions = {}): ReferenceWeights {
  const rand = prng(seed);
  return {
    embed: uniform(rand, d.vocabSize * d.hiddenSize, -1, 1),
    finalNorm: uniform(rand, d.hiddenSize, 0.5, 1.5),
    layers: Array.from({ length: d.numLayers }, () => makeLayer(d, rand, opts)),
  };
}

const IDS = [1, 17, 4, 33, 8, 49, 0, 25];

function rows(logits: Float32Array, from: number, to: number, vocab = DIMS.vocabSize): Float32Array {
  return logits.slice(from * vocab, to * vocab);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
}

describe('roundHalfEven', () => {
  it('sends ties to the even neighbour', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5].map(roundHalfEven)).toEqual([0, 2, 2, 4, 0, -2, -2]);
  });
  it('rounds non-ties to nearest', () => {
    expect(
      [2.4, 2.6, -2.4, -2.6, 0.49999999999999994, -0.49999999999999994, 126.99999].map(roundHalfEven),
    ).toEqual([2, 3, -2, -3, 0, 0, 127]);
  });
});

describe('quantizeActivations', () => {
  it('scales by 127 / max|x| and rounds half to even', () => {
    // x·s = [127, -63.5, 31.75, 12.7000002]: -63.5 is a tie and goes to -64 (half-up would give -63).
    const { xq, s } = quantizeActivations(Float32Array.of(1, -0.5, 0.25, 0.1));
    expect(s).toBe(127);
    expect(Array.from(xq)).toEqual([127, -64, 32, 13]);
  });
  it('rounds 2.5 to 2 when s = 1', () => {
    const { xq, s } = quantizeActivations(Float32Array.of(127, 2.5, -2.5, 3.5));
    expect(s).toBe(1);
    expect(Array.from(xq)).toEqual([127, 2, -2, 4]);
  });
  it('computes s in float32', () => {
    const { xq, s } = quantizeActivations(Float32Array.of(2, -1, 3));
    expect(s).toBe(f32(127 / 3));
    // 2·s = 84.666664, -1·s = -42.333332, 3·s = 126.99999 (float32)
    expect(Array.from(xq)).toEqual([85, -42, 127]);
  });
  it('floors max|x| at 1e-5 so tiny and zero vectors stay finite', () => {
    const tiny = quantizeActivations(Float32Array.of(1e-6, -2e-6));
    expect(tiny.s).toBe(f32(127 / f32(1e-5)));
    expect(Array.from(tiny.xq)).toEqual([13, -25]);
    const zero = quantizeActivations(new Float32Array(3));
    expect(Array.from(zero.xq)).toEqual([0, 0, 0]);
  });
});

describe('bitLinear', () => {
  // xq = [127, -64, 32, 13], s = 127; rows of T give integer accumulators 108 and 83.
  const x = Float32Array.of(1, -0.5, 0.25, 0.1);
  const t = Int8Array.of(1, 0, -1, 1, 0, -1, 1, -1);

  it("'multiply': y = acc · scale / s", () => {
    const y = bitLinear(x, 1, 4, { ternary: t, scale: 0.5, rule: 'multiply' }, 2);
    expect(Array.from(y)).toEqual([f32(54 / 127), f32(41.5 / 127)]);
  });
  it("'divide': y = acc / (s · scale)", () => {
    const y = bitLinear(x, 1, 4, { ternary: t, scale: 2, rule: 'divide' }, 2);
    expect(Array.from(y)).toEqual([f32(108 / 254), f32(83 / 254)]);
  });
  it('quantises each row with its own scale', () => {
    const two = Float32Array.of(1, -0.5, 0.25, 0.1, 2, -1, 0.5, 0.2);
    const y = bitLinear(two, 2, 4, { ternary: t, scale: 1, rule: 'multiply' }, 2);
    expect(Array.from(y)).toEqual([f32(108 / 127), f32(83 / 127), f32(108 / 63.5), f32(83 / 63.5)]);
  });
});

describe('rmsNorm', () => {
  it('matches a hand computation', () => {
    // mean(x²) = 4, sqrt = 2, so x / rms = [1, -1, 1, -1]
    const y = rmsNorm(Float32Array.of(2, -2, 2, -2), 1, 4, Float32Array.of(1, 2, 3, 4), 0);
    expect(Array.from(y)).toEqual([1, -2, 3, -4]);
  });
  it('adds eps inside the square root, in float32', () => {
    const y = rmsNorm(Float32Array.of(3, 4), 1, 2, Float32Array.of(1, 2), 1e-5);
    const rms = f32(Math.sqrt(f32(12.5 + f32(1e-5))));
    expect(Array.from(y)).toEqual([f32(3 / rms), f32(2 * f32(4 / rms))]);
    expect(y[0]).toBeCloseTo(3 / Math.sqrt(12.50001), 6);
  });
  it('normalises each row on its own', () => {
    const y = rmsNorm(Float32Array.of(2, -2, 10, 10), 2, 2, Float32Array.of(1, 1), 0);
    expect(Array.from(y)).toEqual([1, -1, 1, 1]);
  });
});

describe('softmax', () => {
  it('subtracts the max, so large scores do not overflow', () => {
    const x = Float32Array.of(1000, 1000, -Infinity);
    softmaxInPlace(x, 3);
    expect(Array.from(x)).toEqual([0.5, 0.5, 0]);
  });
});

describe('RoPE', () => {
  it('computes inv_freq = 1 / theta^(2i/d) in float32', () => {
    const inv = ropeInverseFrequencies(128, 500000);
    expect(inv.length).toBe(64);
    expect(inv[0]).toBe(1);
    for (let i = 0; i < 64; i++) expect(inv[i] / 500000 ** (-(2 * i) / 128)).toBeCloseTo(1, 6);
  });
  it('is the identity at position 0', () => {
    const rand = prng(7);
    const x = uniform(rand, 32, -2, 2);
    const y = x.slice();
    const angles = ropeAngles(0, ropeInverseFrequencies(16, 10000));
    applyRopeInPlace(y, 0, angles);
    applyRopeInPlace(y, 16, angles);
    expect(y).toEqual(x);
  });
  it('rotates split halves, not interleaved pairs', () => {
    // head_dim 4, theta 100: inv_freq = [1, 0.1]; pairs are (x0, x2) and (x1, x3).
    const x = Float32Array.of(1, 2, 3, 4);
    applyRopeInPlace(x, 0, ropeAngles(1, ropeInverseFrequencies(4, 100)));
    const [c1, s1, c2, s2] = [Math.cos(1), Math.sin(1), Math.cos(0.1), Math.sin(0.1)];
    const expected = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2];
    expected.forEach((e, i) => expect(x[i]).toBeCloseTo(e, 6));
  });
});

describe('grouped-query attention', () => {
  it('maps query heads to kv heads in contiguous groups', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((h) => kvHeadFor(h, 8, 2))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect([0, 1, 2, 3].map((h) => kvHeadFor(h, 4, 4))).toEqual([0, 1, 2, 3]);
  });

  /** Same weights as `w`, with k/v rows copied so that kv head h of an MHA model is `source(h)` of w. */
  function asMultiHead(w: ReferenceWeights, source: (h: number) => number): ReferenceWeights {
    const width = DIMS.headDim * DIMS.hiddenSize;
    const widen = (p: ReferenceProjection): ReferenceProjection => {
      const t = new Int8Array(DIMS.numHeads * width);
      for (let h = 0; h < DIMS.numHeads; h++)
        t.set(p.ternary.subarray(source(h) * width, (source(h) + 1) * width), h * width);
      return { ...p, ternary: t };
    };
    const layers = w.layers.map((l) => ({
      ...l,
      proj: { ...l.proj, k_proj: widen(l.proj.k_proj), v_proj: widen(l.proj.v_proj) },
    }));
    return { ...w, layers };
  }

  it('equals multi-head attention with each kv head repeated for its group', () => {
    const w = makeWeights(DIMS, 11);
    const mha = { ...DIMS, numKvHeads: DIMS.numHeads };
    const gqa = referenceForward(DIMS, w, IDS);
    expect(
      referenceForward(
        mha,
        asMultiHead(w, (h) => Math.floor(h / 2)),
        IDS,
      ),
    ).toEqual(gqa);
    // An interleaved mapping (h mod numKvHeads) is a different model: the test can tell them apart.
    expect(
      referenceForward(
        mha,
        asMultiHead(w, (h) => h % 2),
        IDS,
      ),
    ).not.toEqual(gqa);
  });
});

describe('referenceForward', () => {
  const w = makeWeights(DIMS, 1);

  it('returns finite logits [S, vocab]', () => {
    const logits = referenceForward(DIMS, w, IDS);
    expect(logits.length).toBe(IDS.length * DIMS.vocabSize);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(maxAbs(logits)).toBeGreaterThan(0);
  });

  it('is causal: logits at position i ignore later tokens', () => {
    const a = referenceForward(DIMS, w, IDS);
    const changed = [...IDS.slice(0, 5), 2, 3, 5];
    const b = referenceForward(DIMS, w, changed);
    expect(rows(b, 0, 5)).toEqual(rows(a, 0, 5));
    expect(rows(b, 5, 6)).not.toEqual(rows(a, 5, 6));
  });

  it('depends on earlier tokens', () => {
    const a = referenceForward(DIMS, w, IDS);
    const b = referenceForward(DIMS, w, [IDS[0] + 1, ...IDS.slice(1)]);
    expect(rows(b, 3, 4)).not.toEqual(rows(a, 3, 4));
  });

  it('treats an absent lmHead as tied to the embedding', () => {
    const untied = { ...DIMS, tiedEmbeddings: false };
    const tiedLogits = referenceForward(DIMS, w, IDS);
    expect(referenceForward(untied, { ...w, lmHead: w.embed.slice() }, IDS)).toEqual(tiedLogits);
    const otherHead = uniform(prng(5), DIMS.vocabSize * DIMS.hiddenSize, -1, 1);
    expect(referenceForward(untied, { ...w, lmHead: otherHead }, IDS)).not.toEqual(tiedLogits);
  });

  it("gives identical logits for 'multiply' by 2^k and 'divide' by 2^-k", () => {
    // With power-of-two scales both rules compute the same real number before one float32 rounding.
    const pow2 = (rand: () => number, rule: ScaleRule) => {
      const k = Math.floor(rand() * 5) - 2;
      return rule === 'multiply' ? 2 ** k : 2 ** -k;
    };
    const mul = referenceForward(DIMS, makeWeights(DIMS, 3, { rule: 'multiply', scale: pow2 }), IDS);
    const div = referenceForward(DIMS, makeWeights(DIMS, 3, { rule: 'divide', scale: pow2 }), IDS);
    expect(div).toEqual(mul);
  });

  it("keeps 'multiply' with c and 'divide' with 1/c within float32 noise", () => {
    const c = (rand: () => number, rule: ScaleRule) => {
      const m = 0.5 + rand();
      return rule === 'multiply' ? f32(m) : f32(1 / m);
    };
    const mul = referenceForward(DIMS, makeWeights(DIMS, 4, { rule: 'multiply', scale: c }), IDS);
    const div = referenceForward(DIMS, makeWeights(DIMS, 4, { rule: 'divide', scale: c }), IDS);
    expect(maxAbsDiff(mul, div)).toBeLessThan(1e-3 * maxAbs(mul));
  });

  it('is deterministic and leaves its inputs untouched', () => {
    const embed = w.embed.slice();
    const q = w.layers[0].proj.q_proj.ternary.slice();
    const ids = IDS.slice();
    const a = referenceForward(DIMS, w, ids);
    const b = referenceForward(DIMS, w, ids);
    expect(b).toEqual(a);
    expect(w.embed).toEqual(embed);
    expect(w.layers[0].proj.q_proj.ternary).toEqual(q);
    expect(ids).toEqual(IDS);
  });

  it('uses positions 0..S-1 by default and only for RoPE', () => {
    const a = referenceForward(DIMS, w, IDS);
    expect(referenceForward(DIMS, w, IDS, { positions: IDS.map((_, i) => i) })).toEqual(a);
    // RoPE scores depend on position differences only, so a uniform shift changes logits only by
    // float32 rounding of the angles.
    const shifted = referenceForward(DIMS, w, IDS, { positions: IDS.map((_, i) => i + 5) });
    expect(shifted).not.toEqual(a);
    expect(maxAbsDiff(shifted, a)).toBeLessThan(1e-4 * maxAbs(a));
  });

  it('gives the same logits whether fed at once or through the KV cache', () => {
    const full = referenceForward(DIMS, w, IDS);
    const decoder = new ReferenceDecoder(DIMS, w);
    const parts = [IDS.slice(0, 3), ...IDS.slice(3).map((id) => [id])];
    let row = 0;
    for (const part of parts) {
      const logits = decoder.logits(decoder.append(part), part.length);
      expect(logits).toEqual(rows(full, row, row + part.length));
      row += part.length;
    }
  });

  it('rejects weights and ids that do not fit the dims', () => {
    expect(() => referenceForward(DIMS, { ...w, embed: w.embed.subarray(1) }, IDS)).toThrow(
      /model\.embed_tokens\.weight/,
    );
    expect(() => referenceForward({ ...DIMS, tiedEmbeddings: false }, w, IDS)).toThrow(/lm_head/);
    const bad = w.layers[1].proj.down_proj.ternary.slice();
    bad[5] = 2;
    const layers = [
      w.layers[0],
      {
        ...w.layers[1],
        proj: { ...w.layers[1].proj, down_proj: { ...w.layers[1].proj.down_proj, ternary: bad } },
      },
    ];
    expect(() => referenceForward(DIMS, { ...w, layers }, IDS)).toThrow(
      /model\.layers\.1\.mlp\.down_proj.*not ternary/,
    );
    expect(() => referenceForward(DIMS, w, [DIMS.vocabSize])).toThrow(/token id/);
    expect(() => referenceForward(DIMS, w, [])).toThrow(/no tokens/);
    expect(() => referenceForward(DIMS, w, IDS, { positions: [0] })).toThrow(/positions/);
  });
});

describe('layer wiring', () => {
  it('follows docs/spec.md §2 step by step for a single token', () => {
    // With one token, softmax over one key is 1, so each query head outputs the value of its kv head.
    const d = DIMS;
    const w = makeWeights(d, 9);
    const id = 21;
    const norm = (x: Float32Array, weight: Float32Array) => rmsNorm(x, 1, x.length, weight, d.rmsNormEps);
    const linear = (x: Float32Array, p: ReferenceProjection, out: number) =>
      bitLinear(x, 1, x.length, p, out);
    const add = (a: Float32Array, b: Float32Array) => a.map((x, i) => f32(x + b[i]));
    let h = w.embed.slice(id * d.hiddenSize, (id + 1) * d.hiddenSize);
    for (const layer of w.layers) {
      const a = norm(h, layer.inputNorm);
      const v = linear(a, layer.proj.v_proj, d.numKvHeads * d.headDim);
      const heads = new Float32Array(d.numHeads * d.headDim);
      for (let hd = 0; hd < d.numHeads; hd++) {
        const kv = Math.floor(hd / (d.numHeads / d.numKvHeads));
        heads.set(v.subarray(kv * d.headDim, (kv + 1) * d.headDim), hd * d.headDim);
      }
      h = add(h, linear(norm(heads, layer.attnSubNorm), layer.proj.o_proj, d.hiddenSize));
      const m = norm(h, layer.postAttnNorm);
      const gate = linear(m, layer.proj.gate_proj, d.intermediateSize);
      const up = linear(m, layer.proj.up_proj, d.intermediateSize);
      const act = gate.map((g, i) => f32(f32(Math.max(g, 0) ** 2) * up[i]));
      h = add(h, linear(norm(act, layer.ffnSubNorm), layer.proj.down_proj, d.hiddenSize));
    }
    const hn = norm(h, w.finalNorm);
    const expected = new Float32Array(d.vocabSize);
    for (let t = 0; t < d.vocabSize; t++) {
      let acc = 0;
      for (let j = 0; j < d.hiddenSize; j++) acc += hn[j] * w.embed[t * d.hiddenSize + j];
      expected[t] = f32(acc);
    }
    expect(referenceForward(d, w, [id])).toEqual(expected);
  });
});

describe('greedyGenerate', () => {
  const w = makeWeights(DIMS, 2);

  it('appends the argmax of the last logits, step by step', () => {
    const prompt = [3, 14, 15];
    const generated = greedyGenerate(DIMS, w, prompt, 5);
    const seq = prompt.slice();
    for (let step = 0; step < 5; step++) {
      const logits = referenceForward(DIMS, w, seq);
      seq.push(argmaxRow(logits, seq.length - 1, DIMS.vocabSize));
    }
    expect(generated).toEqual(seq.slice(prompt.length));
    expect(greedyGenerate(DIMS, w, prompt, 0)).toEqual([]);
  });

  it('breaks ties towards the lowest id', () => {
    expect(argmaxRow(Float32Array.of(0, 2, 2, 1), 0, 4)).toBe(1);
  });
});
