// com.microsoft MatMulNBits, bits = 2: B is uint8 [N, ceil(K / blockSize), blockSize / 4], packed along
// K with four values per byte, lowest bits first. With the default zero point 2, the code of t is t + 2
// (-1 → 1, 0 → 2, +1 → 3); K is padded to a whole number of blocks with code 2 (value 0).
// Source rows are K int8 values each; a value outside -1..1 makes the result 1 (JavaScript reports it).

const ZERO_CODE: u32 = 2;

/** Bytes per packed output row: K rounded up to whole blocks, four values a byte. */
function packedRowBytes(k: usize, blockSize: usize): usize {
  return ((k + blockSize - 1) / blockSize) * (blockSize >> 2);
}

/** Code of value k of a row, or the zero code past its end (only for the last, partial bytes). */
function codeAt(row: usize, k: usize, K: usize): u32 {
  return k < K ? <u32>(<i32>load<i8>(row + k) + 2) : ZERO_CODE;
}

/**
 * Codes of four int8 values read as one little-endian word, one code per byte. For t in -1..1,
 * (t & 3) ^ 2 equals t + 2, and unlike an addition it cannot carry into the neighbouring byte.
 */
function codesOfWord(word: u32): u32 {
  return (word & 0x03030303) ^ 0x02020202;
}

/** Folds four codes at bits 0, 8, 16, 24 into one byte with them at bits 0, 2, 4, 6. */
function packWord(codes: u32): u32 {
  const pairs = codes | (codes >> 6); // c0 | c1 << 2 at bits 0..3, c2 | c3 << 2 at bits 16..19
  return (pairs & 0x0f) | ((pairs >> 12) & 0xf0);
}

/**
 * Whether a byte of the word is outside -1..1. The valid bytes 0x00, 0x01 and 0xff are exactly those
 * whose bits 1..7 are all equal, minus 0xfe (-2), the one such byte with bit 1 set and bit 0 clear.
 */
function wordHasNonTernary(word: u32): u32 {
  const unequalHighBits = (word ^ (word >> 1)) & 0x7e7e7e7e;
  const minusTwo = (word >> 1) & ~word & 0x01010101;
  return (unequalHighBits | minusTwo) != 0 ? 1 : 0;
}

/**
 * Packs one row from value `from` (a multiple of 4) to the end of its padded length: whole words of
 * four values first, then the last partial byte and the padding. Returns 1 on a value outside -1..1.
 */
function packRowScalar(row: usize, K: usize, from: usize, out: usize, rowBytes: usize): u32 {
  let bad: u32 = 0;
  let k = from;
  for (; k + 4 <= K; k += 4) {
    const word = load<u32>(row + k);
    bad |= wordHasNonTernary(word);
    store<u8>(out + (k >> 2), packWord(codesOfWord(word)));
  }
  for (let i = k; i < K; i++) bad |= <u32>(<u32>(<i32>load<i8>(row + i) + 1) > 2);
  for (; k < rowBytes << 2; k += 4) {
    const byte =
      codeAt(row, k, K) |
      (codeAt(row, k + 1, K) << 2) |
      (codeAt(row, k + 2, K) << 4) |
      (codeAt(row, k + 3, K) << 6);
    store<u8>(out + (k >> 2), byte);
  }
  return bad;
}

export function packNBits2Scalar(src: usize, rows: usize, K: usize, blockSize: usize, dst: usize): u32 {
  const rowBytes = packedRowBytes(K, blockSize);
  let bad: u32 = 0;
  for (let n: usize = 0; n < rows; n++) bad |= packRowScalar(src + n * K, K, 0, dst + n * rowBytes, rowBytes);
  return bad;
}

export function packNBits2Simd(src: usize, rows: usize, K: usize, blockSize: usize, dst: usize): u32 {
  const rowBytes = packedRowBytes(K, blockSize);
  let bad = i8x16.splat(0);
  let badTail: u32 = 0;
  for (let n: usize = 0; n < rows; n++) {
    const row = src + n * K;
    const out = dst + n * rowBytes;
    let k: usize = 0;
    for (; k + 64 <= K; k += 64) {
      const v0 = v128.load(row + k);
      const v1 = v128.load(row + k, 16);
      const v2 = v128.load(row + k, 32);
      const v3 = v128.load(row + k, 48);
      bad = v128.or(
        bad,
        v128.or(v128.or(nonTernary(v0), nonTernary(v1)), v128.or(nonTernary(v2), nonTernary(v3))),
      );
      const low = i16x8.narrow_i32x4_u(packQuads(v0), packQuads(v1));
      const high = i16x8.narrow_i32x4_u(packQuads(v2), packQuads(v3));
      v128.store(out + (k >> 2), i8x16.narrow_i16x8_u(low, high));
    }
    badTail |= packRowScalar(row, K, k, out, rowBytes);
  }
  return (v128.any_true(bad) ? 1 : 0) | badTail;
}

/** All-ones lanes where a value is outside -1..1 (t + 1, seen unsigned, exceeds 2). */
function nonTernary(values: v128): v128 {
  return i8x16.gt_u(i8x16.add(values, i8x16.splat(1)), i8x16.splat(2));
}

/**
 * Packs 16 values into four bytes, one per i32 lane (in the lane's low byte, other bits zero): the
 * scalar packWord(codesOfWord(word)) applied to each 32-bit lane.
 */
function packQuads(values: v128): v128 {
  const codes = v128.xor(v128.and(values, i8x16.splat(3)), i8x16.splat(2));
  const pairs = v128.or(codes, i32x4.shr_u(codes, 6));
  return v128.or(v128.and(pairs, i32x4.splat(0x0f)), v128.and(i32x4.shr_u(pairs, 12), i32x4.splat(0xf0)));
}

// Pinned layout (docs/spec.md §7): block b of a row holds source values b·(bs − 1) … b·(bs − 1) + bs − 2 in
// its first bs − 1 slots and the zero code in its last slot (the pin's weight); K is padded with zeros to
// whole blocks of bs − 1 values. Output row bytes: ceil(K / (bs − 1)) · bs / 4.

/** Code of slot `slot` of pinned block `b` (the zero code for the pin's slot and for padding). */
function pinnedCodeAt(row: usize, b: usize, slot: usize, K: usize, per: usize): u32 {
  return slot < per ? codeAt(row, b * per + slot, K) : ZERO_CODE;
}

/** One pinned block from its values, scalar; returns 1 on a value outside -1..1. */
function packPinnedBlockScalar(row: usize, b: usize, K: usize, bs: usize, out: usize): u32 {
  const per = bs - 1;
  let bad: u32 = 0;
  for (let slot: usize = 0; slot < bs; slot += 4) {
    let byte: u32 = 0;
    for (let j: usize = 0; j < 4; j++) {
      const s = slot + j;
      if (s < per && b * per + s < K) bad |= <u32>(<u32>(<i32>load<i8>(row + b * per + s) + 1) > 2);
      byte |= pinnedCodeAt(row, b, s, K, per) << ((<u32>j) << 1);
    }
    store<u8>(out + (slot >> 2), byte);
  }
  return bad;
}

export function packNBits2PinnedScalar(src: usize, rows: usize, K: usize, bs: usize, dst: usize): u32 {
  const per = bs - 1;
  const blocks = (K + per - 1) / per;
  const rowBytes = blocks * (bs >> 2);
  let bad: u32 = 0;
  for (let n: usize = 0; n < rows; n++) {
    for (let b: usize = 0; b < blocks; b++) {
      bad |= packPinnedBlockScalar(src + n * K, b, K, bs, dst + n * rowBytes + b * (bs >> 2));
    }
  }
  return bad;
}

/**
 * SIMD twin: a block whose bs source bytes lie inside the row (b·(bs − 1) + bs ≤ K) is packed 16 values
 * at a time from an unaligned load, then its last slot is overwritten with the zero code; the other
 * blocks (the row's tail) go through the scalar body. bs is a multiple of 16 here.
 */
export function packNBits2PinnedSimd(src: usize, rows: usize, K: usize, bs: usize, dst: usize): u32 {
  if (bs & 15) return packNBits2PinnedScalar(src, rows, K, bs, dst);
  const per = bs - 1;
  const blocks = (K + per - 1) / per;
  const blockBytes = bs >> 2;
  const rowBytes = blocks * blockBytes;
  let bad = i8x16.splat(0);
  let badTail: u32 = 0;
  for (let n: usize = 0; n < rows; n++) {
    const row = src + n * K;
    for (let b: usize = 0; b < blocks; b++) {
      const out = dst + n * rowBytes + b * blockBytes;
      const from = row + b * per;
      if (b * per + bs > K) {
        badTail |= packPinnedBlockScalar(row, b, K, bs, out);
        continue;
      }
      for (let s: usize = 0; s < bs; s += 16) {
        const v = v128.load(from + s);
        bad = v128.or(bad, nonTernary(v));
        const q = packQuads(v);
        const narrow = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q, q), i16x8.narrow_i32x4_u(q, q));
        v128.store32_lane(out + (s >> 2), narrow, 0);
      }
      // The last slot belongs to the pin: zero code at bits 6..7 of the block's last byte.
      const last = out + blockBytes - 1;
      store<u8>(last, ((<u32>load<u8>(last)) & 0x3f) | (ZERO_CODE << 6));
    }
  }
  return (v128.any_true(bad) ? 1 : 0) | badTail;
}
