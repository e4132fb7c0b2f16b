/** Deterministic 32-bit generator (mulberry32), so a failing case can be reproduced from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export function randomBytes(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

/** Packed bytes whose four 2-bit codes are all valid (0, 1 or 2). */
export function randomPacked(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < 4; b++) out[i] |= (next() % 3) << (2 * b);
  }
  return out;
}

/**
 * bf16 bytes mixing arbitrary bit patterns (NaNs, infinities, subnormals, ±0) with weight-like values
 * near ±1/c, so ternarisation lands on all three outcomes and near its ±0.5 thresholds.
 */
export function randomBf16(next: () => number, count: number): Uint8Array {
  const out = new Uint8Array(count * 2);
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  for (let i = 0; i < count; i++) {
    let h: number;
    if (next() % 4 === 0) h = next() & 0xffff;
    else {
      f32[0] = ((next() / 2 ** 32) * 2 - 1) * 0.08;
      h = bits[0] >>> 16;
    }
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

export function randomTernary(next: () => number, n: number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() % 3) - 1;
  return out;
}

/** Lengths that exercise empty input, SIMD tails, and exact multiples of the 16/64-byte chunks. */
export const RAGGED_LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 1000, 4099];

/** The same bytes at an odd byte offset, to prove kernels never rely on input alignment. */
export function misaligned(bytes: Uint8Array): Uint8Array {
  const holder = new Uint8Array(bytes.length + 1);
  holder.set(bytes, 1);
  return holder.subarray(1);
}

/** Raw bytes of any typed array, for byte-exact comparisons (NaN payloads, -0 versus +0). */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

export function bf16Bytes(values: number[]): Uint8Array {
  const f32 = Float32Array.from(values);
  const bits = new Uint32Array(f32.buffer);
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    if (bits[i] & 0xffff) throw new Error(`${values[i]} is not exactly representable in bf16`);
    out[2 * i] = (bits[i] >>> 16) & 0xff;
    out[2 * i + 1] = bits[i] >>> 24;
  }
  return out;
}

/**
 * Byte-exact comparison that reports the first difference; much faster than a deep equality on large
 * typed arrays, and its message says where to look.
 */
export function firstDifference(actual: ArrayBufferView, expected: ArrayBufferView): string {
  const a = bytesOf(actual);
  const b = bytesOf(expected);
  if (a.length !== b.length) return `length ${a.length} instead of ${b.length}`;
  const i = a.findIndex((byte, j) => byte !== b[j]);
  return i < 0 ? 'none' : `byte ${i}: ${a[i]} instead of ${b[i]}`;
}
