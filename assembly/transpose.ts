// Transposed ternary unpacking for MatMulInteger's B = Tᵀ ([in, out]). The source is a slab of the
// packed tensor, `rows` (= R) packed rows by `cols` columns, row-major. Output row k (one per slab column)
// is T[0..4R-1][k], i.e. for block b = 0..3 the codes at bits 2b of packed column k, rows 0..R-1:
//   dst[k * 4R + b * R + r] = code(src[r * cols + k], b) - 1.
// Every byte is read whole, so all four of its codes are checked; the result is 1 if any was 3.

export function transposedTernaryI8Scalar(src: usize, rows: usize, cols: usize, dst: usize): u32 {
  return transposeRegion(src, rows, cols, dst, 0, rows, 0, cols);
}

/** Scalar transposition of packed rows [r0, r1) × columns [k0, k1); also serves the SIMD edges. */
function transposeRegion(
  src: usize,
  rows: usize,
  cols: usize,
  dst: usize,
  r0: usize,
  r1: usize,
  k0: usize,
  k1: usize,
): u32 {
  let bad: u32 = 0;
  const outRow = rows << 2;
  for (let k = k0; k < k1; k++) {
    for (let r = r0; r < r1; r++) {
      const byte = <u32>load<u8>(src + r * cols + k);
      bad |= <u32>(byte & (byte >> 1) & 0x55);
      const out = dst + k * outRow + r;
      for (let b: usize = 0; b < 4; b++) {
        store<i8>(out + b * rows, <i8>(<i32>((byte >> ((<u32>b) << 1)) & 3) - 1));
      }
    }
  }
  return bad != 0 ? 1 : 0;
}

// ---- SIMD: 16 × 16 byte tiles ----

const TILE: usize = 16;
/** Two 256-byte scratch tiles the transposition ping-pongs between (stays in L1). */
const tileA = memory.data(256, 16);
const tileB = memory.data(256, 16);

/**
 * One perfect-shuffle pass: output row 2i interleaves the low halves of input rows i and i + 8, output
 * row 2i+1 their high halves. Viewing a byte's position as 8 bits (4 row bits, 4 column bits), a pass
 * rotates those bits left by one, so four passes swap row and column bits: a 16 × 16 transpose.
 */
function shufflePass(from: usize, fromStride: usize, to: usize): void {
  for (let i: usize = 0; i < 8; i++) {
    const a = v128.load(from + i * fromStride);
    const b = v128.load(from + (i + 8) * fromStride);
    const out = to + (i << 5);
    v128.store(out, i8x16.shuffle(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    v128.store(out, i8x16.shuffle(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), 16);
  }
}

/** Transposes the tile at packed (r0, k0) into tileB: row j of tileB = column k0 + j, rows r0..r0+15. */
function transposeTile(src: usize, cols: usize, r0: usize, k0: usize): void {
  shufflePass(src + r0 * cols + k0, cols, tileA);
  shufflePass(tileA, TILE, tileB);
  shufflePass(tileB, TILE, tileA);
  shufflePass(tileA, TILE, tileB);
}

export function transposedTernaryI8Simd(src: usize, rows: usize, cols: usize, dst: usize): u32 {
  const fullRows = rows & ~(TILE - 1);
  const fullCols = cols & ~(TILE - 1);
  const outRow = rows << 2;
  let bad = i8x16.splat(0);
  // Column tiles outside, row tiles inside: each pass fills 16 output rows front to back.
  for (let k0: usize = 0; k0 < fullCols; k0 += TILE) {
    for (let r0: usize = 0; r0 < fullRows; r0 += TILE) {
      transposeTile(src, cols, r0, k0);
      for (let j: usize = 0; j < TILE; j++) {
        const bytes = v128.load(tileB + (j << 4));
        bad = v128.or(bad, v128.and(bytes, i8x16.shr_u(bytes, 1)));
        storeFourBlocks(bytes, dst + (k0 + j) * outRow + r0, rows);
      }
    }
  }
  const code3 = v128.any_true(v128.and(bad, i8x16.splat(0x55))) ? 1 : 0;
  return (
    code3 |
    transposeRegion(src, rows, cols, dst, fullRows, rows, 0, cols) |
    transposeRegion(src, rows, cols, dst, 0, fullRows, fullCols, cols)
  );
}

/** Decodes 16 packed bytes (16 consecutive packed rows) into the four row blocks of one output row. */
function storeFourBlocks(bytes: v128, out: usize, rows: usize): void {
  const three = i8x16.splat(3);
  const one = i8x16.splat(1);
  v128.store(out, i8x16.sub(v128.and(bytes, three), one));
  v128.store(out + rows, i8x16.sub(v128.and(i8x16.shr_u(bytes, 2), three), one));
  v128.store(out + 2 * rows, i8x16.sub(v128.and(i8x16.shr_u(bytes, 4), three), one));
  v128.store(out + 3 * rows, i8x16.sub(i8x16.shr_u(bytes, 6), one));
}
