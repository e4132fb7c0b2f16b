import { float16Bits } from '../onnx/dtypes.ts';
import type { HalfStats } from './weight-fill.ts';

/**
 * float32 → IEEE half, round to nearest even (onnx/dtypes.ts's float16Bits), counting values that do not
 * survive exactly. Values that are bf16 at heart (low 16 bits zero, as in most exports) go through the
 * bf16 table; bf16 values inside half's range (|x| ≥ 2⁻¹⁷ or exactly 0, below 65520) are exact, so for
 * BitNet embeddings this halves the size without changing a number; the stats say how many did change.
 */
export function f32ToF16Into(values: Float32Array, out: Uint16Array, stats: HalfStats): void {
  const { half } = bf16ToHalfTable();
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let inexact = 0;
  let maxAbsError = stats.maxAbsError;
  for (let i = 0; i < values.length; i++) {
    const b = bits[i];
    const h = (b & 0xffff) === 0 ? half[b >>> 16] : float16Bits(values[i]);
    out[i] = h;
    const back = f16BitsToF32(h);
    if (back !== values[i] && !(Number.isNaN(back) && Number.isNaN(values[i]))) {
      inexact++;
      const err = Math.abs(back - values[i]);
      if (err > maxAbsError) maxAbsError = err;
    }
  }
  stats.values += values.length;
  stats.inexact += inexact;
  stats.maxAbsError = maxAbsError;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bf16 bits → half bits for all 65536 inputs, and the absolute error of each (0 where exact). */
let bf16Table: { half: Uint16Array; error: Float32Array } | undefined;

function bf16ToHalfTable() {
  if (bf16Table) return bf16Table;
  const half = new Uint16Array(65536);
  const error = new Float32Array(65536);
  const bits = new Uint32Array(1);
  const value = new Float32Array(bits.buffer);
  for (let b = 0; b < 65536; b++) {
    bits[0] = b << 16;
    const h = float16Bits(value[0]);
    half[b] = h;
    const back = f16BitsToF32(h);
    if (back !== value[0] && !(Number.isNaN(back) && Number.isNaN(value[0])))
      error[b] = Math.abs(back - value[0]);
  }
  bf16Table = { half, error };
  return bf16Table;
}

/**
 * Little-endian bf16 bytes → half, by table: bf16 has only 65536 values, so a lookup is both exact
 * (the table is built with float16Bits) and fast enough to keep up with the disk.
 */
export function bf16BytesToF16Into(bytes: Uint8Array, out: Uint16Array, stats: HalfStats): void {
  const { half, error } = bf16ToHalfTable();
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const src = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  let inexact = 0;
  let maxAbsError = stats.maxAbsError;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    out[i] = half[b];
    // Exponents 113..142 are half's normal range: exact, the common case, no table read needed.
    if ((((b >> 7) & 0xff) - 113) >>> 0 > 29) {
      const e = error[b];
      if (e !== 0) {
        inexact++;
        if (e > maxAbsError) maxAbsError = e;
      }
    }
  }
  stats.values += src.length;
  stats.inexact += inexact;
  stats.maxAbsError = maxAbsError;
}
