// Absmean ternarisation of bf16 master weights (docs/spec.md §1, "online"):
//   t = clamp(roundHalfEven(fround(w * c)), -1, 1), zero always +0, NaN treated as 0.
// With x = fround(w * c) that is exactly t = +1 if x > 0.5, -1 if x < -0.5, else 0: ties at ±0.5 round
// to the even 0, everything past them rounds to ±1 or beyond and is clamped. The comparison form also
// gives NaN → 0 (every comparison with NaN is false) and never produces -0, so no special cases remain.
// The TypeScript reference spells out the rounding literally; the tests hold both to the same bytes.

const ONE_BITS: u32 = 0x3f800000;
const MINUS_ONE_BITS: u32 = 0xbf800000;

function ternaryOf(src: usize, i: usize, c: f32): i32 {
  const x = reinterpret<f32>((<u32>load<u16>(src + (i << 1))) << 16) * c;
  return x > 0.5 ? 1 : x < -0.5 ? -1 : 0;
}

/** Four bf16 values at ptr as float32 lanes: zero-extend each to 32 bits, then move it to the top half. */
function bf16x4(ptr: usize): v128 {
  return i32x4.shl(v128.load16x4_u(ptr), 16);
}

// ---- float32 output ----

export function ternariseBf16F32Scalar(src: usize, count: usize, c: f32, dst: usize): void {
  for (let i: usize = 0; i < count; i++) store<f32>(dst + (i << 2), <f32>ternaryOf(src, i, c));
}

export function ternariseBf16F32Simd(src: usize, count: usize, c: f32, dst: usize): void {
  const factor = f32x4.splat(c);
  let i: usize = 0;
  for (; i + 4 <= count; i += 4) {
    v128.store(dst + (i << 2), ternaryF32Bits(f32x4.mul(bf16x4(src + (i << 1)), factor)));
  }
  ternariseBf16F32Scalar(src + (i << 1), count - i, c, dst + (i << 2));
}

/** Float32 bit patterns of -1, +0, +1 for four products, selected by comparison masks. */
function ternaryF32Bits(x: v128): v128 {
  const up = v128.and(f32x4.gt(x, f32x4.splat(0.5)), i32x4.splat(ONE_BITS));
  const down = v128.and(f32x4.lt(x, f32x4.splat(-0.5)), i32x4.splat(MINUS_ONE_BITS));
  return v128.or(up, down);
}

// ---- int8 output ----

export function ternariseBf16I8Scalar(src: usize, count: usize, c: f32, dst: usize): void {
  for (let i: usize = 0; i < count; i++) store<i8>(dst + i, <i8>ternaryOf(src, i, c));
}

export function ternariseBf16I8Simd(src: usize, count: usize, c: f32, dst: usize): void {
  const factor = f32x4.splat(c);
  let i: usize = 0;
  for (; i + 16 <= count; i += 16) {
    const at = src + (i << 1);
    const t0 = ternaryI32(f32x4.mul(bf16x4(at), factor));
    const t1 = ternaryI32(f32x4.mul(bf16x4(at + 8), factor));
    const t2 = ternaryI32(f32x4.mul(bf16x4(at + 16), factor));
    const t3 = ternaryI32(f32x4.mul(bf16x4(at + 24), factor));
    v128.store(dst + i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(t0, t1), i16x8.narrow_i32x4_s(t2, t3)));
  }
  ternariseBf16I8Scalar(src + (i << 1), count - i, c, dst + i);
}

/** -1, 0, +1 as i32 lanes: comparison masks are all-ones (-1), so "below" minus "above" is the answer. */
function ternaryI32(x: v128): v128 {
  return i32x4.sub(f32x4.lt(x, f32x4.splat(-0.5)), f32x4.gt(x, f32x4.splat(0.5)));
}
