// Entry points of both kernel builds. JavaScript owns the memory: it grows it, copies inputs in above
// `heapBase()`, and passes raw pointers; nothing here allocates. The SIMD build (asconfig target `simd`)
// compiles the v128 bodies, the scalar build their scalar twins; ASC_FEATURE_SIMD is a compile-time
// constant, so each build contains only one of the two.

import { absSumBf16Scalar, absSumBf16Simd, bf16ToF32Scalar, bf16ToF32Simd } from './bf16';
import { packNBits2PinnedScalar, packNBits2PinnedSimd, packNBits2Scalar, packNBits2Simd } from './pack-nbits';
import { quantizeBlocksScalar, quantizeBlocksSimd } from './quantize-blocks';
import {
  ternariseBf16F32Scalar,
  ternariseBf16F32Simd,
  ternariseBf16I8Scalar,
  ternariseBf16I8Simd,
} from './ternarise';
import {
  firstBadCodeScalar,
  firstBadCodeSimd,
  unpackTernaryF32Scalar,
  unpackTernaryF32Simd,
  unpackTernaryI8Scalar,
  unpackTernaryI8Simd,
} from './ternary-unpack';
import { transposedTernaryI8Scalar, transposedTernaryI8Simd } from './transpose';

/** First free byte after static data; JavaScript lays out its buffers from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 in the SIMD build, 0 in the scalar build (lets tests and names tell them apart). */
export function simdEnabled(): u32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}

/** n packed bytes → n float32 of row block `block`; returns 1 if a selected code was 3. */
export function unpackTernaryF32(src: usize, n: usize, block: u32, dst: usize): u32 {
  const shift = block << 1;
  if (ASC_FEATURE_SIMD) return unpackTernaryF32Simd(src, n, shift, dst);
  return unpackTernaryF32Scalar(src, n, shift, dst);
}

/** n packed bytes → n int8 of row block `block`; returns 1 if a selected code was 3. */
export function unpackTernaryI8(src: usize, n: usize, block: u32, dst: usize): u32 {
  const shift = block << 1;
  if (ASC_FEATURE_SIMD) return unpackTernaryI8Simd(src, n, shift, dst);
  return unpackTernaryI8Scalar(src, n, shift, dst);
}

/** Index of the first byte holding code 3 at any position, or -1. */
export function firstBadCode(src: usize, n: usize): f64 {
  if (ASC_FEATURE_SIMD) return firstBadCodeSimd(src, n);
  return firstBadCodeScalar(src, n);
}

/** count bf16 values → count float32 bit patterns. */
export function bf16ToF32(src: usize, count: usize, dst: usize): void {
  if (ASC_FEATURE_SIMD) bf16ToF32Simd(src, count, dst);
  else bf16ToF32Scalar(src, count, dst);
}

/** Sum of |w| over count bf16 values, in the eight-lane order documented in bf16.ts. */
export function absSumBf16(src: usize, count: usize): f64 {
  if (ASC_FEATURE_SIMD) return absSumBf16Simd(src, count);
  return absSumBf16Scalar(src, count);
}

/** count bf16 values → count float32 ternary values with factor c. */
export function ternariseBf16F32(src: usize, count: usize, c: f32, dst: usize): void {
  if (ASC_FEATURE_SIMD) ternariseBf16F32Simd(src, count, c, dst);
  else ternariseBf16F32Scalar(src, count, c, dst);
}

/** count bf16 values → count int8 ternary values with factor c. */
export function ternariseBf16I8(src: usize, count: usize, c: f32, dst: usize): void {
  if (ASC_FEATURE_SIMD) ternariseBf16I8Simd(src, count, c, dst);
  else ternariseBf16I8Scalar(src, count, c, dst);
}

/** Packed slab [rows, cols] → int8 [cols, 4 * rows] (its transposed unpacking); returns 1 on code 3. */
export function transposedTernaryI8(src: usize, rows: usize, cols: usize, dst: usize): u32 {
  if (ASC_FEATURE_SIMD) return transposedTernaryI8Simd(src, rows, cols, dst);
  return transposedTernaryI8Scalar(src, rows, cols, dst);
}

/** int8 [rows, K] → MatMulNBits bits=2 bytes; returns 1 if a value was outside -1..1. */
export function packNBits2(src: usize, rows: usize, K: usize, blockSize: usize, dst: usize): u32 {
  if (ASC_FEATURE_SIMD) return packNBits2Simd(src, rows, K, blockSize, dst);
  return packNBits2Scalar(src, rows, K, blockSize, dst);
}

/** int8 [rows, K] → MatMulNBits bits=2 bytes in the pinned layout; returns 1 if a value was outside -1..1. */
export function packNBits2Pinned(src: usize, rows: usize, K: usize, blockSize: usize, dst: usize): u32 {
  if (ASC_FEATURE_SIMD) return packNBits2PinnedSimd(src, rows, K, blockSize, dst);
  return packNBits2PinnedScalar(src, rows, K, blockSize, dst);
}

/** float32 [rows, K] → blockwise codes (bits 8 or 4, MatMulNBits layout) and scales [rows · blocks]. */
export function quantizeBlocks(
  src: usize,
  rows: usize,
  K: usize,
  blockSize: usize,
  bits: u32,
  codes: usize,
  scales: usize,
): void {
  if (ASC_FEATURE_SIMD) quantizeBlocksSimd(src, rows, K, blockSize, bits, codes, scales);
  else quantizeBlocksScalar(src, rows, K, blockSize, bits, codes, scales);
}
