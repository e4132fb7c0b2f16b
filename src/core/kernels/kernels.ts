import { ConversionError } from '../errors.ts';

/**
 * The hot loops, behind one interface so the WASM build (SIMD or scalar) and the plain TypeScript
 * reference are interchangeable and tested against each other byte for byte.
 *
 * Outputs are returned as views that stay valid only until the next call on the same instance (the
 * WASM implementation hands out views into its own reused memory). Consume or copy before calling again.
 *
 * Ternary values are -1, 0, +1; as float32 the zero is always +0.0.
 */
export interface Kernels {
  readonly name: string;

  /**
   * Unpacks one row block of a transformers-packed ternary tensor (docs/spec.md §1): every byte of
   * `packed` contributes its 2-bit code at bit position `2 * block`; codes 0,1,2 become -1,0,+1.
   * Returns the values as float32 (length = packed.length). Throws a {@link TernaryCodeError} naming the
   * first byte whose code at this block is 3.
   */
  unpackTernaryF32(packed: Uint8Array, block: number): Float32Array;

  /** Index of the first byte of `packed` holding a 2-bit code 3 anywhere, or -1. */
  firstBadCode(packed: Uint8Array): number;

  /** Little-endian bfloat16 bytes → float32 values (exact: bf16 is the top half of f32; NaN bits kept). */
  bf16ToF32(bytes: Uint8Array): Float32Array;

  /**
   * Sum of |w| over little-endian bf16 bytes, accumulated in float64 in a fixed order that every
   * implementation repeats exactly: element i goes to lane i % 8 (in index order), then
   * `((((((lane0 + lane1) + lane2) + lane3) + lane4) + lane5) + lane6) + lane7`. The result depends only
   * on the bytes of one call, so callers summing windows must split tensors the same way everywhere.
   * NaN anywhere gives NaN; ±Inf gives Inf.
   */
  absSumBf16(bytes: Uint8Array): number;

  /**
   * Absmean ternarisation of bf16 master weights with a precomputed factor c (rounded to float32):
   * t = clamp(roundHalfEven(fround(w * c)), -1, 1), returned as float32. A NaN product counts as 0.
   */
  ternariseBf16F32(bytes: Uint8Array, c: number): Float32Array;

  /** {@link unpackTernaryF32} with int8 output (-1, 0, +1), for integer and compact formats. */
  unpackTernaryI8(packed: Uint8Array, block: number): Int8Array;

  /** {@link ternariseBf16F32} with int8 output (-1, 0, +1). */
  ternariseBf16I8(bytes: Uint8Array, c: number): Int8Array;

  /**
   * Rows k0..k1-1 of Tᵀ, where T [4R, cols] is the unpacked ternary matrix of `packed` [R, cols]
   * (MatMulInteger's B = [in, out]). Returns int8 [k1 - k0, 4R]: output row k is T[0..4R-1][k].
   * Reads only columns k0..k1-1; throws a {@link TernaryCodeError} naming the first byte (row-major
   * index into `packed`) of those columns holding code 3 at any position.
   */
  transposedTernaryI8(packed: Uint8Array, R: number, cols: number, k0: number, k1: number): Int8Array;

  /**
   * Packs an int8 ternary matrix [rows, K] for com.microsoft MatMulNBits with bits = 2: returns uint8
   * [rows, ceil(K / blockSize), blockSize / 4], four values per byte along K, lowest bits first,
   * code = t + 2; K is padded to whole blocks with code 2 (zero). blockSize is a positive multiple of 4
   * (onnxruntime wants a power of two ≥ 16). Throws a RangeError naming the first value outside -1..1.
   */
  packNBits2(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array;

  /**
   * {@link packNBits2} in the pinned layout of docs/spec.md §7: value k of a row goes to block
   * k / (blockSize − 1), slot k % (blockSize − 1); each block's last slot (the pin's) and the padding get
   * code 2 (zero). Returns uint8 [rows, ceil(K / (blockSize − 1)), blockSize / 4].
   */
  packNBits2Pinned(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array;

  /**
   * The head's blockwise candidate copy (docs/spec.md §8): float32 [rows, K] in blocks of blockSize along
   * K, `bits` 8 or 4; maxq = 2^(bits−1) − 1, zero = 2^(bits−1); scale = fround(max|w| / maxq), code =
   * zero + roundHalfEven(fround(w / scale)); an all-zero block has scale 0 and zero codes; K is padded to
   * whole blocks with the zero code. Codes in MatMulNBits' layout (4 bits: element 2j in the low nibble).
   */
  quantizeBlocks(values: Float32Array, rows: number, K: number, blockSize: number, bits: BlockBits): Blocks;
}

export type BlockBits = 8 | 4;

export interface Blocks {
  /** uint8 [rows, ceil(K / blockSize), blockSize · bits / 8]. */
  codes: Uint8Array;
  /** float32 [rows · ceil(K / blockSize)]. */
  scales: Float32Array;
}

export function checkQuantizeBlocksArgs(
  values: Float32Array,
  rows: number,
  K: number,
  blockSize: number,
  bits: number,
): void {
  checkCount('rows', rows);
  checkCount('K', K);
  if (values.length !== rows * K) {
    throw new RangeError(`matrix [${rows}, ${K}] needs ${rows * K} values, got ${values.length}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 4 || blockSize % 4 !== 0) {
    throw new RangeError(`block size must be a positive multiple of 4, got ${blockSize}`);
  }
  if (bits !== 8 && bits !== 4) throw new RangeError(`blockwise codes have 8 or 4 bits, got ${bits}`);
}

/** Bytes of one packed row of {@link Kernels.packNBits2Pinned}. */
export function pinnedRowBytes(K: number, blockSize: number): number {
  return Math.ceil(K / (blockSize - 1)) * (blockSize / 4);
}

/**
 * Packed ternary input held the 2-bit code 3, which BitNet packing never produces. Callers that know
 * the file and tensor rethrow it as a ConversionError carrying both.
 */
export class TernaryCodeError extends ConversionError {
  /** Index into the packed bytes that were passed to the kernel. */
  readonly byteIndex: number;

  constructor(byteIndex: number) {
    super('corrupt packed weight: 2-bit code 3 does not encode a ternary value', {
      expected: 'codes 0, 1, 2',
      found: `code 3 in byte ${byteIndex}`,
    });
    this.name = 'TernaryCodeError';
    this.byteIndex = byteIndex;
  }
}

// ---- The argument contract, shared by every implementation so they fail alike ----

export function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > 3) {
    throw new RangeError(`row block must be 0, 1, 2 or 3, got ${block}`);
  }
}

export function checkBf16Bytes(bytes: Uint8Array): void {
  if (bytes.length % 2 !== 0)
    throw new RangeError(`bf16 data must have an even byte length, got ${bytes.length}`);
}

function checkCount(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${what} must be a whole number ≥ 0, got ${value}`);
}

export function checkTransposeArgs(
  packed: Uint8Array,
  R: number,
  cols: number,
  k0: number,
  k1: number,
): void {
  checkCount('R', R);
  checkCount('cols', cols);
  if (packed.length !== R * cols) {
    throw new RangeError(`packed tensor [${R}, ${cols}] needs ${R * cols} bytes, got ${packed.length}`);
  }
  if (!Number.isInteger(k0) || !Number.isInteger(k1) || k0 < 0 || k1 < k0 || k1 > cols) {
    throw new RangeError(`column range [${k0}, ${k1}) is not inside [0, ${cols})`);
  }
}

export function checkPackNBits2Args(ternary: Int8Array, rows: number, K: number, blockSize: number): void {
  checkCount('rows', rows);
  checkCount('K', K);
  if (ternary.length !== rows * K) {
    throw new RangeError(`ternary matrix [${rows}, ${K}] needs ${rows * K} values, got ${ternary.length}`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 4 || blockSize % 4 !== 0) {
    throw new RangeError(`block size must be a positive multiple of 4, got ${blockSize}`);
  }
}

/** Bytes of one packed row of {@link Kernels.packNBits2}: K rounded up to whole blocks, 4 values a byte. */
export function nBits2RowBytes(K: number, blockSize: number): number {
  return Math.ceil(K / blockSize) * (blockSize / 4);
}

// ---- Locating bad input (slow path, run only after a kernel reported a problem) ----

/** Index of the first byte whose code at `block` is 3, or -1. */
export function firstCode3At(packed: Uint8Array, block: number): number {
  const shift = 2 * block;
  for (let i = 0; i < packed.length; i++) if (((packed[i] >> shift) & 3) === 3) return i;
  return -1;
}

/** True if any of the byte's four 2-bit codes is 3: a high bit and its low bit both set. */
export function hasCode3(byte: number): boolean {
  return (byte & (byte >> 1) & 0x55) !== 0;
}

/** Row-major index of the first byte in columns [k0, k1) of `packed` [rows, cols] holding code 3, or -1. */
export function firstCode3InColumns(packed: Uint8Array, cols: number, k0: number, k1: number): number {
  for (let rowStart = 0; rowStart < packed.length; rowStart += cols) {
    for (let k = k0; k < k1; k++) if (hasCode3(packed[rowStart + k])) return rowStart + k;
  }
  return -1;
}

export function nonTernaryError(values: Int8Array): RangeError {
  const i = values.findIndex((t) => t < -1 || t > 1);
  return new RangeError(`ternary value ${values[i]} at index ${i} is not -1, 0 or +1`);
}
