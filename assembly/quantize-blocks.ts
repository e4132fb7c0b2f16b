// Blockwise copies of the head for its candidate product (docs/spec.md §8): float32 rows [rows, K] in
// blocks of bs along K, `bits` 8 or 4. Per block: scale = max|w| / maxq (float32, maxq = 2^(bits−1) − 1)
// and codes zero + roundHalfEven(w / scale) (float32 division, zero = 2^(bits−1)); an all-zero block has
// scale 0 and zero codes; K is padded to whole blocks with the zero code. Codes are laid out as
// MatMulNBits reads them: 8 bits one per byte [rows, blocks, bs]; 4 bits two per byte, element 2j in the
// low nibble [rows, blocks, bs / 2]. Scales [rows · blocks] float32.

function blockMaxScalar(from: usize, count: usize): f32 {
  let max: f32 = 0;
  for (let i: usize = 0; i < count; i++) max = Mathf.max(max, Mathf.abs(load<f32>(from + (i << 2))));
  return max;
}

function codeAt(from: usize, i: usize, count: usize, scale: f32, zero: i32): u32 {
  if (i >= count || scale == 0) return <u32>zero;
  return <u32>(zero + <i32>nearest<f32>(load<f32>(from + (i << 2)) / scale));
}

function blockScalar(from: usize, count: usize, bs: usize, bits: u32, codes: usize, scaleAt: usize): void {
  const zero: i32 = 1 << (bits - 1);
  const scale = blockMaxScalar(from, count) / <f32>(zero - 1);
  store<f32>(scaleAt, scale);
  if (bits == 8) {
    for (let i: usize = 0; i < bs; i++) store<u8>(codes + i, codeAt(from, i, count, scale, zero));
    return;
  }
  for (let i: usize = 0; i < bs; i += 2) {
    const lo = codeAt(from, i, count, scale, zero);
    const hi = codeAt(from, i + 1, count, scale, zero);
    store<u8>(codes + (i >> 1), lo | (hi << 4));
  }
}

function blockBytes(bs: usize, bits: u32): usize {
  return (bs * bits) >> 3;
}

export function quantizeBlocksScalar(
  src: usize,
  rows: usize,
  K: usize,
  bs: usize,
  bits: u32,
  codes: usize,
  scales: usize,
): void {
  const blocks = (K + bs - 1) / bs;
  const bytes = blockBytes(bs, bits);
  for (let r: usize = 0; r < rows; r++) {
    for (let b: usize = 0; b < blocks; b++) {
      const start = b * bs;
      const count = min(bs, K - start);
      blockScalar(
        src + ((r * K + start) << 2),
        count,
        bs,
        bits,
        codes + (r * blocks + b) * bytes,
        scales + ((r * blocks + b) << 2),
      );
    }
  }
}

/** 16 codes zero + round(w / s) of the 16 floats at `from`, one per byte. */
function codes16(from: usize, s: v128, zero: v128): v128 {
  const q0 = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from), s))), zero);
  const q1 = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from, 16), s))), zero);
  const q2 = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from, 32), s))), zero);
  const q3 = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from, 48), s))), zero);
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3));
}

/** 16 codes below 16, one per byte → 8 bytes (as the low 8 lanes of 16-bit words), pairs as nibbles. */
function nibblePairs(c: v128): v128 {
  // As 16-bit lanes each holds c_even | c_odd << 8; keep c_even and move c_odd down to bits 4..7.
  return v128.or(v128.and(c, i16x8.splat(0x0f)), v128.and(i16x8.shr_u(c, 4), i16x8.splat(0xf0)));
}

/** SIMD twin: whole blocks (bs a multiple of 32) 16 lanes at a time; partial blocks use the scalar body. */
export function quantizeBlocksSimd(
  src: usize,
  rows: usize,
  K: usize,
  bs: usize,
  bits: u32,
  codes: usize,
  scales: usize,
): void {
  if (bs & 31) {
    quantizeBlocksScalar(src, rows, K, bs, bits, codes, scales);
    return;
  }
  const zeroCode: i32 = 1 << (bits - 1);
  const blocks = (K + bs - 1) / bs;
  const bytes = blockBytes(bs, bits);
  for (let r: usize = 0; r < rows; r++) {
    for (let b: usize = 0; b < blocks; b++) {
      const start = b * bs;
      const from = src + ((r * K + start) << 2);
      const out = codes + (r * blocks + b) * bytes;
      const scaleAt = scales + ((r * blocks + b) << 2);
      if (start + bs > K) {
        blockScalar(from, K - start, bs, bits, out, scaleAt);
        continue;
      }
      let m = f32x4.splat(0);
      for (let i: usize = 0; i < bs; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(from + (i << 2))));
      const max = Mathf.max(
        Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
        Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)),
      );
      const scale = max / <f32>(zeroCode - 1);
      store<f32>(scaleAt, scale);
      if (scale == 0) {
        memory.fill(out, <u8>(bits == 8 ? zeroCode : zeroCode | (zeroCode << 4)), bytes);
        continue;
      }
      const s = f32x4.splat(scale);
      const zero = i32x4.splat(zeroCode);
      if (bits == 8) {
        for (let i: usize = 0; i < bs; i += 16) v128.store(out + i, codes16(from + (i << 2), s, zero));
        continue;
      }
      for (let i: usize = 0; i < bs; i += 32) {
        const a = nibblePairs(codes16(from + (i << 2), s, zero));
        const c = nibblePairs(codes16(from + ((i + 16) << 2), s, zero));
        v128.store(out + (i >> 1), i8x16.narrow_i16x8_u(a, c));
      }
    }
  }
}
