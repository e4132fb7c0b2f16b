import { beforeAll, describe, expect, it } from 'vitest';
import { TernaryCodeError, type Kernels } from '../../src/core/kernels/kernels.ts';
import { createReferenceKernels } from '../../src/core/kernels/reference-kernels.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { bf16Bytes, bytesOf } from './kernel-fixtures.ts';

// Known answers every implementation must give, checked against the reference and both WASM builds.

const IMPLEMENTATIONS: [string, () => Promise<Kernels>][] = [
  ['reference', async () => createReferenceKernels()],
  ['wasm-simd', () => loadNodeKernels('simd')],
  ['wasm-scalar', () => loadNodeKernels('scalar')],
];

/** docs/spec.md §1: packed [2, 2] and the rows of its unpacked [8, 2] matrix. */
const CHECK_PACKED = new Uint8Array([0b10100001, 0b00011000, 0b10010000, 0b00001010]);
const CHECK_ROWS = [
  [0, -1],
  [-1, 1],
  [-1, 1],
  [-1, 1],
  [1, 0],
  [0, -1],
  [1, -1],
  [1, -1],
];

const F32_PLUS_ZERO = [0, 0, 0, 0];
const F32_ONE = [0x00, 0x00, 0x80, 0x3f];
const F32_MINUS_ONE = [0x00, 0x00, 0x80, 0xbf];

describe.each(IMPLEMENTATIONS)('%s kernels', (expectedName, create) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await create();
  });

  it('reports which implementation it is', () => {
    expect(k.name).toBe(expectedName);
  });

  describe('ternary unpacking', () => {
    it('unpacks the docs/spec.md check vector: block b gives rows bR..bR+R-1', () => {
      for (const unpack of [k.unpackTernaryF32.bind(k), k.unpackTernaryI8.bind(k)]) {
        const rows: number[][] = [];
        for (let block = 0; block < 4; block++) {
          const values = Array.from(unpack(CHECK_PACKED, block));
          rows.push(values.slice(0, 2), values.slice(2, 4));
        }
        expect(rows).toEqual(CHECK_ROWS);
      }
    });

    it('writes +0.0, never -0.0, for code 1', () => {
      expect(Array.from(bytesOf(k.unpackTernaryF32(new Uint8Array([0b01010101]), 2)))).toEqual(F32_PLUS_ZERO);
    });

    it('transposes the check vector, whole and by column ranges', () => {
      const column = (c: number) => CHECK_ROWS.map((row) => row[c]);
      expect(Array.from(k.transposedTernaryI8(CHECK_PACKED, 2, 2, 0, 2))).toEqual([
        ...column(0),
        ...column(1),
      ]);
      expect(Array.from(k.transposedTernaryI8(CHECK_PACKED, 2, 2, 1, 2))).toEqual(column(1));
      expect(Array.from(k.transposedTernaryI8(CHECK_PACKED, 2, 2, 1, 1))).toEqual([]);
    });

    it('finds the first byte holding code 3 at any position', () => {
      const packed = new Uint8Array(40);
      expect(k.firstBadCode(packed)).toBe(-1);
      expect(k.firstBadCode(new Uint8Array(0))).toBe(-1);
      for (const [index, position] of [
        [39, 0],
        [37, 3],
        [20, 1],
        [5, 2],
        [0, 3],
      ]) {
        packed[index] = 0b11 << (2 * position);
        expect(k.firstBadCode(packed)).toBe(index);
      }
      // 0b10 and 0b01 in neighbouring positions must not read as a 3.
      expect(k.firstBadCode(new Uint8Array(33).fill(0b01100110))).toBe(-1);
    });

    it('rejects code 3 at the unpacked block with the byte index, and only there', () => {
      const packed = new Uint8Array(35).fill(0b01010101);
      packed[33] = 0b00110101; // code 3 at block 2
      packed[34] = 0b00110101;
      expect(() => k.unpackTernaryF32(packed, 1)).not.toThrow();
      for (const unpack of [k.unpackTernaryF32.bind(k), k.unpackTernaryI8.bind(k)]) {
        const error = catchError(() => unpack(packed, 2));
        expect(error).toBeInstanceOf(TernaryCodeError);
        expect((error as TernaryCodeError).byteIndex).toBe(33);
      }
      packed[3] = 0b11010101; // block 3, inside the first 16-byte chunk
      expect((catchError(() => k.unpackTernaryI8(packed, 3)) as TernaryCodeError).byteIndex).toBe(3);
    });

    it('rejects code 3 in the transposed columns with its row-major index', () => {
      const packed = new Uint8Array(3 * 20).fill(0b01010101);
      packed[2 * 20 + 4] = 0b11000000;
      packed[1 * 20 + 9] = 0b00001100;
      expect(() => k.transposedTernaryI8(packed, 3, 20, 10, 20)).not.toThrow();
      expect(
        (catchError(() => k.transposedTernaryI8(packed, 3, 20, 0, 20)) as TernaryCodeError).byteIndex,
      ).toBe(29);
      expect(
        (catchError(() => k.transposedTernaryI8(packed, 3, 20, 0, 5)) as TernaryCodeError).byteIndex,
      ).toBe(44);
    });

    it('checks its arguments', () => {
      expect(() => k.unpackTernaryF32(CHECK_PACKED, 4)).toThrow(RangeError);
      expect(() => k.unpackTernaryI8(CHECK_PACKED, 0.5)).toThrow(RangeError);
      expect(() => k.transposedTernaryI8(CHECK_PACKED, 2, 3, 0, 1)).toThrow(RangeError);
      expect(() => k.transposedTernaryI8(CHECK_PACKED, 2, 2, 1, 3)).toThrow(RangeError);
      expect(() => k.transposedTernaryI8(CHECK_PACKED, 2, 2, 2, 1)).toThrow(RangeError);
    });
  });

  describe('bf16', () => {
    it('converts bit-exactly, NaN payloads included', () => {
      const halves = [0x3f80, 0xbf80, 0x8000, 0x0000, 0x0001, 0x7f80, 0xff80, 0x7fc1, 0xffa5, 0x7f81, 0x4049];
      const bytes = new Uint8Array(halves.flatMap((h) => [h & 0xff, h >>> 8]));
      const out = new Uint32Array(bytesOf(k.bf16ToF32(bytes)).buffer);
      expect(Array.from(out)).toEqual(halves.map((h) => h * 65536));
    });

    it('sums magnitudes in the documented eight-lane order', () => {
      expect(k.absSumBf16(bf16Bytes([1, -2, 0.5]))).toBe(3.5);
      expect(k.absSumBf16(new Uint8Array(0))).toBe(0);
      // Lanes give 2^53 + (1 + 1); a sequential sum would lose both ones to rounding.
      expect(k.absSumBf16(bf16Bytes([2 ** 53, 1, 0, 0, 0, 0, 0, 0, 0, -1]))).toBe(2 ** 53 + 2);
      expect(k.absSumBf16(new Uint8Array([0xc1, 0x7f, 0x80, 0x3f]))).toBeNaN();
      expect(k.absSumBf16(new Uint8Array([0x80, 0xff, 0x80, 0x3f]))).toBe(Infinity);
    });

    it('ternarises with half-even ties, clamping, +0 and NaN as 0', () => {
      const w = [0.125, -0.125, 0.1328125, -0.1328125, 0.375, -0.375, 1000, -Infinity, NaN, -0, 0.0625];
      const t = [0, 0, 1, -1, 1, -1, 1, -1, 0, 0, 0];
      const bytes = bf16Bytes(w);
      expect(Array.from(k.ternariseBf16I8(bytes, 4))).toEqual(t);
      const f32 = Array.from(bytesOf(k.ternariseBf16F32(bytes, 4)));
      expect(f32).toEqual(t.flatMap((v) => (v === 0 ? F32_PLUS_ZERO : v > 0 ? F32_ONE : F32_MINUS_ONE)));
    });

    it('rounds the product to float32 before rounding to an integer', () => {
      // 1.5 * fround(1/3) is 0.50000001 exactly, but exactly 0.5 in float32: a tie, so 0.
      const third = Math.fround(1 / 3);
      expect(Array.from(k.ternariseBf16I8(bf16Bytes([1.5, -1.5]), third))).toEqual([0, 0]);
      expect(Array.from(k.ternariseBf16F32(bf16Bytes([1.5]), third))).toEqual([0]);
    });

    it('rejects odd byte lengths', () => {
      const odd = new Uint8Array(3);
      expect(() => k.bf16ToF32(odd)).toThrow(RangeError);
      expect(() => k.absSumBf16(odd)).toThrow(RangeError);
      expect(() => k.ternariseBf16F32(odd, 1)).toThrow(RangeError);
      expect(() => k.ternariseBf16I8(odd, 1)).toThrow(RangeError);
    });
  });

  describe('MatMulNBits packing', () => {
    it('packs four codes a byte, lowest bits first, padding K with code 2', () => {
      const ternary = new Int8Array([-1, 0, 1, 1, -1, 1, 0, 0, -1, -1]);
      // Row 0: codes 1,2,3,3 | 1,pad,pad,pad; row 1: codes 3,2,2,1 | 1,pad,pad,pad.
      expect(Array.from(k.packNBits2(ternary, 2, 5, 4))).toEqual([0xf9, 0xa9, 0b01101011, 0b10101001]);
      expect(Array.from(k.packNBits2(ternary.subarray(0, 5), 1, 5, 16))).toEqual([0xf9, 0xa9, 0xaa, 0xaa]);
      expect(Array.from(k.packNBits2(new Int8Array(0), 0, 5, 16))).toEqual([]);
      expect(Array.from(k.packNBits2(new Int8Array(0), 3, 0, 16))).toEqual([]);
    });

    it('rejects values outside -1..1 and bad shapes', () => {
      const ternary = new Int8Array(70);
      ternary[66] = 2;
      ternary[67] = -2;
      expect(() => k.packNBits2(ternary, 1, 70, 32)).toThrow(/value 2 at index 66/);
      ternary[66] = 0;
      expect(() => k.packNBits2(ternary, 1, 70, 32)).toThrow(/value -2 at index 67/);
      ternary[67] = 0;
      ternary[3] = 127;
      expect(() => k.packNBits2(ternary, 1, 70, 32)).toThrow(/value 127 at index 3/);
      expect(() => k.packNBits2(new Int8Array(8), 2, 5, 16)).toThrow(RangeError);
      expect(() => k.packNBits2(new Int8Array(8), 2, 4, 6)).toThrow(RangeError);
    });
  });

  it('handles empty input everywhere', () => {
    const empty = new Uint8Array(0);
    expect(k.unpackTernaryF32(empty, 0)).toHaveLength(0);
    expect(k.unpackTernaryI8(empty, 3)).toHaveLength(0);
    expect(k.bf16ToF32(empty)).toHaveLength(0);
    expect(k.ternariseBf16F32(empty, 1)).toHaveLength(0);
    expect(k.ternariseBf16I8(empty, 1)).toHaveLength(0);
    expect(k.transposedTernaryI8(empty, 0, 0, 0, 0)).toHaveLength(0);
    expect(k.transposedTernaryI8(empty, 0, 7, 2, 5)).toHaveLength(0);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}
