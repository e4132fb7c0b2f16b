// The q8 head's table (docs/spec.md §7): float32 rows [rows, K] in blocks of bs along K → per block
// scale = max|w| / 127 (float32) and codes 128 + roundHalfEven(w / scale) (float32 division); an all-zero
// block has scale 0 and codes 128; K is padded to whole blocks with code 128. Outputs: codes
// [rows, blocks, bs] bytes and scales [rows · blocks] float32.

const ZERO_CODE: u32 = 128;

function blockMaxScalar(from: usize, count: usize): f32 {
  let max: f32 = 0;
  for (let i: usize = 0; i < count; i++) max = Mathf.max(max, Mathf.abs(load<f32>(from + (i << 2))));
  return max;
}

function codeOf(w: f32, scale: f32): u32 {
  return <u32>(<i32>ZERO_CODE + <i32>nearest<f32>(w / scale));
}

function blockScalar(from: usize, count: usize, bs: usize, codes: usize, scaleAt: usize): void {
  const scale = blockMaxScalar(from, count) / <f32>127;
  store<f32>(scaleAt, scale);
  for (let i: usize = 0; i < bs; i++) {
    const code = i < count && scale != 0 ? codeOf(load<f32>(from + (i << 2)), scale) : ZERO_CODE;
    store<u8>(codes + i, code);
  }
}

export function quantizeQ8Scalar(
  src: usize,
  rows: usize,
  K: usize,
  bs: usize,
  codes: usize,
  scales: usize,
): void {
  const blocks = (K + bs - 1) / bs;
  for (let r: usize = 0; r < rows; r++) {
    for (let b: usize = 0; b < blocks; b++) {
      const start = b * bs;
      const count = min(bs, K - start);
      blockScalar(
        src + ((r * K + start) << 2),
        count,
        bs,
        codes + (r * blocks + b) * bs,
        scales + ((r * blocks + b) << 2),
      );
    }
  }
}

/** SIMD twin: whole blocks (bs a multiple of 16) four lanes at a time; partial blocks use the scalar body. */
export function quantizeQ8Simd(
  src: usize,
  rows: usize,
  K: usize,
  bs: usize,
  codes: usize,
  scales: usize,
): void {
  if (bs & 15) {
    quantizeQ8Scalar(src, rows, K, bs, codes, scales);
    return;
  }
  const blocks = (K + bs - 1) / bs;
  for (let r: usize = 0; r < rows; r++) {
    for (let b: usize = 0; b < blocks; b++) {
      const start = b * bs;
      const from = src + ((r * K + start) << 2);
      const out = codes + (r * blocks + b) * bs;
      const scaleAt = scales + ((r * blocks + b) << 2);
      if (start + bs > K) {
        blockScalar(from, K - start, bs, out, scaleAt);
        continue;
      }
      let m = f32x4.splat(0);
      for (let i: usize = 0; i < bs; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(from + (i << 2))));
      const max = Mathf.max(
        Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
        Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)),
      );
      const scale = max / <f32>127;
      store<f32>(scaleAt, scale);
      if (scale == 0) {
        memory.fill(out, <u8>ZERO_CODE, bs);
        continue;
      }
      const s = f32x4.splat(scale);
      const zero = i32x4.splat(<i32>ZERO_CODE);
      for (let i: usize = 0; i < bs; i += 16) {
        const q0 = i32x4.add(
          i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from + (i << 2)), s))),
          zero,
        );
        const q1 = i32x4.add(
          i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from + (i << 2), 16), s))),
          zero,
        );
        const q2 = i32x4.add(
          i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from + (i << 2), 32), s))),
          zero,
        );
        const q3 = i32x4.add(
          i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(from + (i << 2), 48), s))),
          zero,
        );
        v128.store(out + i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3)));
      }
    }
  }
}
