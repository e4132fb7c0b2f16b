/**
 * Float32 building blocks of the reference forward pass (docs/spec.md §2).
 *
 * The converted ONNX graph computes in float32, so every elementary operation here is rounded to
 * float32 with Math.fround: the reference then differs from a correct graph only by summation order
 * and equivalent reformulations (x·rsqrt vs x/sqrt), each worth an ulp or so, not by float64-vs-float32
 * drift. Those ulps are amplified only where a quantisation `round` lands next to a tie.
 *
 * Conventions shared by all functions:
 * - Matrices are row-major typed arrays; a batch of activations is `[rows, n]`.
 * - Dot products of float32 vectors multiply exactly in float64 (24+24 significand bits fit in 53),
 *   accumulate in float64 and round once to float32. That is the value every float32 summation order
 *   approximates, so it sits in the middle of what a correct graph may produce.
 * - Scalar sums that the spec pins down (RMSNorm's sum of squares, softmax's denominator) are summed
 *   sequentially in float32, rounding after each addition.
 * Functions never mutate their inputs unless their name says `InPlace`.
 */
import type { ScaleRule } from '../bitnet/dims.ts';
import { dotBlockF32, dotBlockInt8, dotF64, dotInt8, ROW_BLOCK } from './reference-matmul.ts';

const f32 = Math.fround;

/** Floor on max|x| before computing the activation scale; torch clamps with a float32 scalar. */
const ACT_ABS_MAX_FLOOR = f32(1e-5);
const INT8_MIN = -128;
const INT8_MAX = 127;

/** One ternary projection as the reference consumes it. */
export interface ReferenceProjection {
  /** [out, in] row-major, values -1/0/1. */
  ternary: Int8Array;
  /** float32; its meaning depends on `rule` (see ScaleRule). */
  scale: number;
  rule: ScaleRule;
}

/**
 * Round to nearest, ties to even (what torch.round and ONNX Round do). Math.round breaks ties towards
 * +∞, so ties are detected and moved to the even neighbour. `r - x` is exact (Sterbenz): r is 0 or
 * within a factor of two of x, so a tie is recognised without rounding error.
 */
export function roundHalfEven(x: number): number {
  let r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  // `+ 0` turns -0 into 0 so integer results compare equal to plain integer literals.
  return r + 0;
}

/** 127 / max(max|x|, 1e-5) over x[start, start + n), in float32. NaN propagates, as in torch. */
export function activationScale(x: Float32Array, start: number, n: number): number {
  let absMax = 0;
  for (let j = start; j < start + n; j++) absMax = Math.max(absMax, Math.abs(x[j]));
  return f32(INT8_MAX / Math.max(absMax, ACT_ABS_MAX_FLOOR));
}

/**
 * Quantises x[start, start + n) with scale s into out[outStart, outStart + n). Returns the smallest
 * distance of any x·s to a rounding boundary (k + ½): where that is tiny, a correct implementation that
 * differs in the last float32 bit upstream may round the other way (docs/spec.md §2, "Exactness").
 */
function quantizeInto(
  x: Float32Array,
  start: number,
  n: number,
  s: number,
  out: Int8Array,
  outStart: number,
): number {
  let margin = Infinity;
  for (let j = 0; j < n; j++) {
    const v = f32(x[start + j] * s);
    const q = roundHalfEven(v);
    out[outStart + j] = Math.min(INT8_MAX, Math.max(INT8_MIN, q));
    margin = Math.min(margin, Math.abs(Math.abs(v - Math.floor(v)) - 0.5));
  }
  return margin;
}

/** Per-token absmax int8 quantisation of one activation vector (docs/spec.md §2, BitLinear). */
export function quantizeActivations(x: Float32Array): { xq: Int8Array; s: number } {
  const s = activationScale(x, 0, x.length);
  const xq = new Int8Array(x.length);
  quantizeInto(x, 0, x.length, s, xq, 0);
  return { xq, s };
}

/** Quantised activations of a batch: `xq` is [rows, n], `s[r]` the float32 scale of row r. */
export interface QuantizedRows {
  xq: Int8Array;
  s: Float64Array;
  rows: number;
  n: number;
  /** Smallest distance of any x·s to a rounding boundary (see quantizeInto). */
  tieMargin: number;
}

/** Quantises each row of x [rows, n] independently (the scale is per token). */
export function quantizeRows(x: Float32Array, rows: number, n: number): QuantizedRows {
  const xq = new Int8Array(rows * n);
  const s = new Float64Array(rows);
  let tieMargin = Infinity;
  for (let r = 0; r < rows; r++) {
    s[r] = activationScale(x, r * n, n);
    tieMargin = Math.min(tieMargin, quantizeInto(x, r * n, n, s[r], xq, r * n));
  }
  return { xq, s, rows, n, tieMargin };
}

/**
 * Turns an exact integer accumulator into the projection's float32 output. acc is exactly
 * representable in float32 (|acc| ≤ 127 · in < 2²⁴, docs/spec.md §2), so no rounding hides in it.
 */
export function dequantize(acc: number, s: number, scale: number, rule: ScaleRule): number {
  return rule === 'multiply' ? f32(f32(acc * scale) / s) : f32(acc / f32(s * scale));
}

/**
 * y [rows, out] = dequantize(xq · Tᵀ). The weight row is the outer loop so each ternary row is read
 * from memory once per block of tokens; the integer dot products are exact.
 */
export function ternaryProject(
  q: QuantizedRows,
  proj: ReferenceProjection,
  outFeatures: number,
): Float32Array {
  const { xq, s, rows, n } = q;
  const scale = f32(proj.scale);
  const y = new Float32Array(rows * outFeatures);
  const acc = new Float64Array(ROW_BLOCK);
  for (let o = 0; o < outFeatures; o++) {
    let r = 0;
    for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
      dotBlockInt8(xq, r, n, proj.ternary, o * n, acc);
      for (let k = 0; k < ROW_BLOCK; k++) {
        y[(r + k) * outFeatures + o] = dequantize(acc[k], s[r + k], scale, proj.rule);
      }
    }
    for (; r < rows; r++) {
      const dot = dotInt8(xq, r * n, proj.ternary, o * n, n);
      y[r * outFeatures + o] = dequantize(dot, s[r], scale, proj.rule);
    }
  }
  return y;
}

/** BitLinear (docs/spec.md §2) of x [rows, in] with a ternary [out, in] projection. */
export function bitLinear(
  x: Float32Array,
  rows: number,
  inFeatures: number,
  proj: ReferenceProjection,
  outFeatures: number,
): Float32Array {
  return ternaryProject(quantizeRows(x, rows, inFeatures), proj, outFeatures);
}

/**
 * RMSNorm of each row of x [rows, n]: w · x / sqrt(mean(x²) + eps), all in float32.
 * Order: sum of fround(x_i²) sequentially in float32 → divide by n → add eps → sqrt → x_i / that → · w_i.
 * (transformers multiplies by rsqrt instead of dividing by sqrt; the two differ by an ulp or so.)
 */
export function rmsNorm(
  x: Float32Array,
  rows: number,
  n: number,
  w: Float32Array,
  eps: number,
): Float32Array {
  const out = new Float32Array(rows * n);
  const eps32 = f32(eps);
  for (let r = 0; r < rows; r++) {
    const off = r * n;
    let sumSq = 0;
    for (let i = 0; i < n; i++) sumSq = f32(sumSq + f32(x[off + i] * x[off + i]));
    const rms = f32(Math.sqrt(f32(f32(sumSq / n) + eps32)));
    for (let i = 0; i < n; i++) out[off + i] = f32(w[i] * f32(x[off + i] / rms));
  }
  return out;
}

/** relu(gate)² · up, element-wise, in float32. */
export function relu2Gate(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const r = Math.max(gate[i], 0);
    out[i] = f32(f32(r * r) * up[i]);
  }
  return out;
}

/** Residual connection: h += y, in float32. */
export function addInPlace(h: Float32Array, y: Float32Array): void {
  for (let i = 0; i < h.length; i++) h[i] = f32(h[i] + y[i]);
}

/** Float32 dot product of a[aOff, aOff + n) and b[bOff, bOff + n): exact products, float64 sum, one rounding. */
export function dotF32(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  return f32(dotF64(a, aOff, b, bOff, n));
}

/**
 * Softmax of x[0, n) in place, in float32: subtract the max (so exp never overflows), exponentiate,
 * sum the exponentials sequentially in float32, divide.
 */
export function softmaxInPlace(x: Float32Array, n: number): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i]);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    x[i] = f32(Math.exp(f32(x[i] - max)));
    sum = f32(sum + x[i]);
  }
  for (let i = 0; i < n; i++) x[i] = f32(x[i] / sum);
}

/**
 * RoPE inverse frequencies, length headDim/2, as transformers computes them in float32:
 * inv_freq[i] = 1 / theta ** (float(2i) / headDim). Each step is one float32 op; V8's float64
 * Math.pow rounded to float32 equals a correctly rounded powf unless the exact power lies within a
 * float64 ulp of a float32 rounding boundary.
 */
export function ropeInverseFrequencies(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  const base = f32(theta);
  for (let i = 0; i < half; i++) {
    const exponent = f32((2 * i) / headDim);
    inv[i] = f32(1 / f32(base ** exponent));
  }
  return inv;
}

/** cos and sin of one position, length headDim/2 (the second half of cat(f, f) repeats the first). */
export interface RopeAngles {
  cos: Float32Array;
  sin: Float32Array;
}

/** Angles pos · inv_freq are rounded to float32 before cos/sin, as transformers does (float32 matmul). */
export function ropeAngles(position: number, invFreq: Float32Array): RopeAngles {
  const cos = new Float32Array(invFreq.length);
  const sin = new Float32Array(invFreq.length);
  const pos = f32(position);
  for (let i = 0; i < invFreq.length; i++) {
    const angle = f32(pos * invFreq[i]);
    cos[i] = f32(Math.cos(angle));
    sin[i] = f32(Math.sin(angle));
  }
  return { cos, sin };
}

/**
 * Rotates one head vector x[off, off + headDim) in place: x·cos + rotate_half(x)·sin with
 * rotate_half([x1, x2]) = [-x2, x1] (halves, not interleaved pairs).
 */
export function applyRopeInPlace(x: Float32Array, off: number, angles: RopeAngles): void {
  const half = angles.cos.length;
  for (let i = 0; i < half; i++) {
    const x1 = x[off + i];
    const x2 = x[off + half + i];
    const c = angles.cos[i];
    const s = angles.sin[i];
    x[off + i] = f32(f32(x1 * c) - f32(x2 * s));
    x[off + half + i] = f32(f32(x2 * c) + f32(x1 * s));
  }
}

/** Grouped-query attention: query head h reads kv head floor(h / (numHeads / numKvHeads)). */
export function kvHeadFor(head: number, numHeads: number, numKvHeads: number): number {
  return Math.floor(head / (numHeads / numKvHeads));
}

/**
 * Products of x [rows, n] with every row of W [vocab, n]: logits [rows, vocab]. Each entry equals
 * dotF32 of the two rows (same exact products, same float64 order, one rounding).
 */
export function projectRowsF32(
  x: Float32Array,
  rows: number,
  n: number,
  w: Float32Array,
  vocab: number,
): Float32Array {
  const out = new Float32Array(rows * vocab);
  const acc = new Float64Array(ROW_BLOCK);
  for (let v = 0; v < vocab; v++) {
    let r = 0;
    for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
      dotBlockF32(x, r, n, w, v * n, acc);
      for (let k = 0; k < ROW_BLOCK; k++) out[(r + k) * vocab + v] = f32(acc[k]);
    }
    for (; r < rows; r++) out[r * vocab + v] = f32(dotF64(x, r * n, w, v * n, n));
  }
  return out;
}
