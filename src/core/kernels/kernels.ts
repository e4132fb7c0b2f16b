/**
 * The hot loops, behind one interface so the WASM build (SIMD or scalar) and the plain TypeScript
 * reference are interchangeable and tested against each other byte for byte.
 *
 * Outputs are returned as views that stay valid only until the next call on the same instance (the
 * WASM implementation hands out views into its own reused memory). Consume or copy before calling again.
 */
export interface Kernels {
  readonly name: string;

  /**
   * Unpacks one row block of a transformers-packed ternary tensor (BITNET.md §1): every byte of
   * `packed` contributes its 2-bit code at bit position `2 * block`; codes 0,1,2 become -1,0,+1.
   * Returns the values as float32 (length = packed.length), or throws via `firstBadCode` on code 3.
   */
  unpackTernaryF32(packed: Uint8Array, block: number): Float32Array;

  /** Index of the first byte of `packed` holding a 2-bit code 3 anywhere, or -1. */
  firstBadCode(packed: Uint8Array): number;

  /** Little-endian bfloat16 bytes → float32 values (exact: bf16 is the top half of f32). */
  bf16ToF32(bytes: Uint8Array): Float32Array;

  /** Sum of |w| over little-endian bf16 bytes, accumulated in float64. */
  absSumBf16(bytes: Uint8Array): number;

  /**
   * Absmean ternarisation of bf16 master weights with a precomputed factor c (float32):
   * t = clamp(roundHalfEven(fround(w * c)), -1, 1), returned as float32.
   */
  ternariseBf16F32(bytes: Uint8Array, c: number): Float32Array;
}
