// bfloat16 is the top half of a float32, so conversion is a 16-bit shift of the bit pattern; working on
// integers (never on float values) keeps NaN payloads exact.

// ---- bf16 → f32 ----

export function bf16ToF32Scalar(src: usize, count: usize, dst: usize): void {
  for (let i: usize = 0; i < count; i++) {
    store<u32>(dst + (i << 2), (<u32>load<u16>(src + (i << 1))) << 16);
  }
}

export function bf16ToF32Simd(src: usize, count: usize, dst: usize): void {
  const zero = i8x16.splat(0);
  let i: usize = 0;
  for (; i + 8 <= count; i += 8) {
    const halves = v128.load(src + (i << 1));
    const out = dst + (i << 2);
    v128.store(out, widenLow(zero, halves));
    v128.store(out, widenHigh(zero, halves), 16);
  }
  bf16ToF32Scalar(src + (i << 1), count - i, dst + (i << 2));
}

/** Float32 bit patterns of bf16 lanes 0..3: each 16-bit lane interleaved under a zero low half. */
function widenLow(zero: v128, halves: v128): v128 {
  return i8x16.shuffle(zero, halves, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
}

/** Float32 bit patterns of bf16 lanes 4..7. */
function widenHigh(zero: v128, halves: v128): v128 {
  return i8x16.shuffle(zero, halves, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

// ---- sum of magnitudes ----
//
// The summation order is part of the contract (the TypeScript reference repeats it exactly):
// element i is added, in index order, to float64 lane i % 8 (lanes start at +0); the result is
// ((((((lane0 + lane1) + lane2) + lane3) + lane4) + lane5) + lane6) + lane7.
// Eight lanes let the SIMD build keep four f64x2 accumulators busy while staying reproducible in
// plain scalar code. Every |w| is exact in float64, so only the additions round.

const LANES: usize = 8;
/** Scratch for the eight lane sums, so the ragged tail can be added lane by lane after the bulk. */
const laneSums = memory.data(64, 16);

function magnitude(src: usize, i: usize): f64 {
  return <f64>reinterpret<f32>(((<u32>load<u16>(src + (i << 1))) & 0x7fff) << 16);
}

/** Adds elements [from, count) to their lanes (i % 8) in laneSums. */
function addToLanes(src: usize, from: usize, count: usize): void {
  for (let i = from; i < count; i++) {
    const lane = laneSums + ((i & (LANES - 1)) << 3);
    store<f64>(lane, load<f64>(lane) + magnitude(src, i));
  }
}

function combineLanes(): f64 {
  let sum = load<f64>(laneSums);
  for (let lane: usize = 1; lane < LANES; lane++) sum += load<f64>(laneSums + (lane << 3));
  return sum;
}

export function absSumBf16Scalar(src: usize, count: usize): f64 {
  // One local per lane: lane j sums elements j, j + 8, j + 16, ...
  let s0: f64 = 0;
  let s1: f64 = 0;
  let s2: f64 = 0;
  let s3: f64 = 0;
  let s4: f64 = 0;
  let s5: f64 = 0;
  let s6: f64 = 0;
  let s7: f64 = 0;
  let i: usize = 0;
  for (; i + LANES <= count; i += LANES) {
    s0 += magnitude(src, i);
    s1 += magnitude(src, i + 1);
    s2 += magnitude(src, i + 2);
    s3 += magnitude(src, i + 3);
    s4 += magnitude(src, i + 4);
    s5 += magnitude(src, i + 5);
    s6 += magnitude(src, i + 6);
    s7 += magnitude(src, i + 7);
  }
  store<f64>(laneSums, s0);
  store<f64>(laneSums, s1, 8);
  store<f64>(laneSums, s2, 16);
  store<f64>(laneSums, s3, 24);
  store<f64>(laneSums, s4, 32);
  store<f64>(laneSums, s5, 40);
  store<f64>(laneSums, s6, 48);
  store<f64>(laneSums, s7, 56);
  addToLanes(src, i, count);
  return combineLanes();
}

export function absSumBf16Simd(src: usize, count: usize): f64 {
  const zero = i8x16.splat(0);
  // The same eight lanes, two per f64x2 accumulator.
  let acc01 = f64x2.splat(0);
  let acc23 = f64x2.splat(0);
  let acc45 = f64x2.splat(0);
  let acc67 = f64x2.splat(0);
  let i: usize = 0;
  for (; i + LANES <= count; i += LANES) {
    const halves = v128.load(src + (i << 1));
    const low = f32x4.abs(widenLow(zero, halves));
    const high = f32x4.abs(widenHigh(zero, halves));
    acc01 = f64x2.add(acc01, f64x2.promote_low_f32x4(low));
    acc23 = f64x2.add(acc23, f64x2.promote_low_f32x4(upperPair(low)));
    acc45 = f64x2.add(acc45, f64x2.promote_low_f32x4(high));
    acc67 = f64x2.add(acc67, f64x2.promote_low_f32x4(upperPair(high)));
  }
  v128.store(laneSums, acc01);
  v128.store(laneSums, acc23, 16);
  v128.store(laneSums, acc45, 32);
  v128.store(laneSums, acc67, 48);
  addToLanes(src, i, count);
  return combineLanes();
}

/** Moves f32 lanes 2 and 3 down to 0 and 1, where promote_low reads them. */
function upperPair(v: v128): v128 {
  return i32x4.shuffle(v, v, 2, 3, 2, 3);
}
