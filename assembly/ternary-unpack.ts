// Row-block unpacking of transformers-packed ternary weights (docs/spec.md §1). Every byte holds four
// 2-bit codes; `shift` (= 2 * block) selects the one of the block being unpacked. Codes 0, 1, 2 mean
// -1, 0, +1. Code 3 never occurs in valid data, so every unpacker reports whether it saw one and the
// JavaScript side turns that into an error: the check rides along with the load it needs anyway.
//
// Each SIMD function handles whole 16-byte chunks and hands the ragged tail to its scalar twin, so the
// two builds share one definition of the tail and differ only in how the bulk is computed.

/** Nonzero only for code 3 (both bits set); lets loops accumulate "saw a bad code" without branching. */
function badBit(code: u32): u32 {
  return code & (code >> 1) & 1;
}

// ---- float32 output ----

/** Writes n float32 values (-1, +0, +1) to dst; returns 1 if any selected code was 3, else 0. */
export function unpackTernaryF32Scalar(src: usize, n: usize, shift: u32, dst: usize): u32 {
  let bad: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const code = ((<u32>load<u8>(src + i)) >> shift) & 3;
    bad |= badBit(code);
    // i32 → f32 conversion of 0 is +0.0, which is the zero the contract promises.
    store<f32>(dst + (i << 2), <f32>(<i32>code - 1));
  }
  return bad;
}

export function unpackTernaryF32Simd(src: usize, n: usize, shift: u32, dst: usize): u32 {
  let bad = i8x16.splat(0);
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    const codes = selectCodes(v128.load(src + i), shift);
    bad = v128.or(bad, i8x16.eq(codes, i8x16.splat(3)));
    const values = i8x16.sub(codes, i8x16.splat(1));
    const low = i16x8.extend_low_i8x16_s(values);
    const high = i16x8.extend_high_i8x16_s(values);
    const out = dst + (i << 2);
    v128.store(out, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(low)));
    v128.store(out, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(low)), 16);
    v128.store(out, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(high)), 32);
    v128.store(out, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(high)), 48);
  }
  return sawBadCode(bad) | unpackTernaryF32Scalar(src + i, n - i, shift, dst + (i << 2));
}

// ---- int8 output ----

/** Writes n int8 values (-1, 0, +1) to dst; returns 1 if any selected code was 3, else 0. */
export function unpackTernaryI8Scalar(src: usize, n: usize, shift: u32, dst: usize): u32 {
  let bad: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const code = ((<u32>load<u8>(src + i)) >> shift) & 3;
    bad |= badBit(code);
    store<i8>(dst + i, <i8>(<i32>code - 1));
  }
  return bad;
}

export function unpackTernaryI8Simd(src: usize, n: usize, shift: u32, dst: usize): u32 {
  let bad = i8x16.splat(0);
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    const codes = selectCodes(v128.load(src + i), shift);
    bad = v128.or(bad, i8x16.eq(codes, i8x16.splat(3)));
    v128.store(dst + i, i8x16.sub(codes, i8x16.splat(1)));
  }
  return sawBadCode(bad) | unpackTernaryI8Scalar(src + i, n - i, shift, dst + i);
}

/** The 2-bit codes at `shift` of 16 bytes, one per byte lane (0..3). */
function selectCodes(bytes: v128, shift: u32): v128 {
  return v128.and(i8x16.shr_u(bytes, shift), i8x16.splat(3));
}

/** 1 if any lane of an OR of `i8x16.eq(codes, 3)` masks is set, else 0. */
function sawBadCode(badMasks: v128): u32 {
  return v128.any_true(badMasks) ? 1 : 0;
}

// ---- validation ----

/** True if any of the byte's four 2-bit codes is 3: a high bit and its low bit both set. */
function hasCode3(byte: u32): bool {
  return (byte & (byte >> 1) & 0x55) != 0;
}

/**
 * Index of the first byte in [src, src+n) with code 3 at any of its four positions, or -1.
 * Returned as f64 so that indexes past 2^31 reach JavaScript intact.
 */
export function firstBadCodeScalar(src: usize, n: usize): f64 {
  for (let i: usize = 0; i < n; i++) {
    if (hasCode3(load<u8>(src + i))) return <f64>i;
  }
  return -1;
}

export function firstBadCodeSimd(src: usize, n: usize): f64 {
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    const bytes = v128.load(src + i);
    const code3 = v128.and(v128.and(bytes, i8x16.shr_u(bytes, 1)), i8x16.splat(0x55));
    // The chunk is known bad: let the scalar twin find the exact byte.
    if (v128.any_true(code3)) return <f64>i + firstBadCodeScalar(src + i, 16);
  }
  const tail = firstBadCodeScalar(src + i, n - i);
  return tail < 0 ? -1 : <f64>i + tail;
}
