import { beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/core/kernels/kernels.ts';
import { createReferenceKernels } from '../../src/core/kernels/reference-kernels.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import {
  bytesOf,
  firstDifference,
  misaligned,
  RAGGED_LENGTHS,
  randomBf16,
  randomBytes,
  randomPacked,
  randomTernary,
  rng,
} from './kernel-fixtures.ts';

// Random data through both WASM builds must give the reference's bytes exactly: ragged lengths around
// the 16- and 64-byte SIMD chunks, empty input, and inputs at odd byte offsets.

const reference = createReferenceKernels();
const SEEDS = [1, 2, 3];

describe.each(['simd', 'scalar'] as const)('wasm-%s matches the reference', (build) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await loadNodeKernels(build);
  });

  /** Runs `check` for every ragged length and seed, with the input aligned and misaligned. */
  function forEachCase(check: (n: number, next: () => number, place: (b: Uint8Array) => Uint8Array) => void) {
    for (const seed of SEEDS) {
      for (const n of RAGGED_LENGTHS) {
        check(n, rng(seed * 10007 + n), (b) => b);
        check(n, rng(seed * 10007 + n), misaligned);
      }
    }
  }

  it('unpackTernaryF32 / unpackTernaryI8', () => {
    forEachCase((n, next, place) => {
      const packed = place(randomPacked(next, n));
      for (let block = 0; block < 4; block++) {
        expect(
          firstDifference(k.unpackTernaryF32(packed, block), reference.unpackTernaryF32(packed, block)),
        ).toBe('none');
        expect(
          firstDifference(k.unpackTernaryI8(packed, block), reference.unpackTernaryI8(packed, block)),
        ).toBe('none');
      }
    });
  });

  it('firstBadCode on arbitrary bytes', () => {
    forEachCase((n, next, place) => {
      // Sparse code-3 bytes so the answer lands anywhere, including nowhere.
      const bytes = randomPacked(next, n);
      if (n > 0 && next() % 4 !== 0) bytes[next() % n] |= 0b11 << (2 * (next() % 4));
      expect(k.firstBadCode(place(bytes))).toBe(reference.firstBadCode(bytes));
      const noisy = place(randomBytes(next, n));
      expect(k.firstBadCode(noisy)).toBe(reference.firstBadCode(noisy));
    });
  });

  it('bf16ToF32 and absSumBf16', () => {
    forEachCase((n, next, place) => {
      const bytes = place(randomBf16(next, n));
      expect(firstDifference(k.bf16ToF32(bytes), reference.bf16ToF32(bytes))).toBe('none');
      expect(k.absSumBf16(bytes)).toBe(reference.absSumBf16(bytes));
    });
  });

  it('absSumBf16 of finite weights, bit-exact over a long window', () => {
    const next = rng(99);
    const bytes = randomBf16(next, 1 << 20);
    for (let i = 0; i < bytes.length; i += 2) if ((bytes[i + 1] & 0x7f) === 0x7f) bytes[i + 1] &= 0xbf;
    const sum = reference.absSumBf16(bytes);
    expect(Number.isFinite(sum)).toBe(true);
    expect(k.absSumBf16(bytes)).toBe(sum);
  });

  it('ternariseBf16F32 / ternariseBf16I8', () => {
    forEachCase((n, next, place) => {
      const bytes = place(randomBf16(next, n));
      for (const c of [12.5, Math.fround(1 / 0.0213), 1 / 3, 4]) {
        expect(firstDifference(k.ternariseBf16F32(bytes, c), reference.ternariseBf16F32(bytes, c))).toBe(
          'none',
        );
        expect(firstDifference(k.ternariseBf16I8(bytes, c), reference.ternariseBf16I8(bytes, c))).toBe(
          'none',
        );
      }
    });
  });

  it('transposedTernaryI8 over shapes and column ranges', () => {
    const next = rng(7);
    for (const R of [0, 1, 3, 15, 16, 17, 32, 40]) {
      for (const cols of [0, 1, 5, 16, 17, 48, 70]) {
        const packed = randomPacked(next, R * cols);
        const ranges = [[0, cols], ...Array.from({ length: 4 }, () => randomRange(next, cols))];
        for (const [k0, k1] of ranges) {
          expect(
            firstDifference(
              k.transposedTernaryI8(packed, R, cols, k0, k1),
              reference.transposedTernaryI8(packed, R, cols, k0, k1),
            ),
          ).toBe('none');
        }
      }
    }
  });

  it('transposedTernaryI8 reports the same corrupt byte', () => {
    const next = rng(8);
    for (let trial = 0; trial < 40; trial++) {
      const [R, cols] = [1 + (next() % 40), 1 + (next() % 40)];
      const packed = randomPacked(next, R * cols);
      for (let bad = next() % 3; bad > 0; bad--) packed[next() % packed.length] |= 0b11 << (2 * (next() % 4));
      const [k0, k1] = randomRange(next, cols);
      expect(errorOf(() => k.transposedTernaryI8(packed, R, cols, k0, k1))).toEqual(
        errorOf(() => reference.transposedTernaryI8(packed, R, cols, k0, k1)),
      );
    }
  });

  it('packNBits2 over shapes and block sizes', () => {
    const next = rng(9);
    for (const rows of [0, 1, 2, 5]) {
      for (const K of [0, 1, 3, 4, 63, 64, 65, 127, 128, 200, 2560]) {
        const ternary = randomTernary(next, rows * K);
        for (const blockSize of [4, 16, 32, 64, 128]) {
          expect(
            firstDifference(
              k.packNBits2(ternary, rows, K, blockSize),
              reference.packNBits2(ternary, rows, K, blockSize),
            ),
          ).toBe('none');
        }
      }
    }
  });

  it('packNBits2Pinned over shapes and block sizes (docs/spec.md §7)', () => {
    const next = rng(19);
    for (const rows of [0, 1, 2, 5]) {
      for (const K of [0, 1, 3, 15, 16, 31, 127, 128, 254, 255, 300, 2560]) {
        const ternary = randomTernary(next, rows * K);
        for (const blockSize of [4, 16, 32, 64, 128]) {
          expect(
            firstDifference(
              k.packNBits2Pinned(ternary, rows, K, blockSize),
              reference.packNBits2Pinned(ternary, rows, K, blockSize),
            ),
          ).toBe('none');
        }
      }
    }
    // A value outside -1..1 is reported, wherever the SIMD or the scalar path meets it.
    for (const at of [0, 126, 127, 200, 299]) {
      const ternary = randomTernary(next, 300);
      ternary[at] = 2;
      expect(errorOf(() => k.packNBits2Pinned(ternary, 1, 300, 128))).toEqual(
        errorOf(() => reference.packNBits2Pinned(ternary, 1, 300, 128)),
      );
    }
  });

  it('quantizeBlocks (8 and 4 bits) over shapes, block sizes and all-zero blocks', () => {
    const next = rng(29);
    for (const rows of [0, 1, 3]) {
      for (const K of [0, 1, 15, 16, 32, 33, 100, 2560]) {
        const values = Float32Array.from({ length: rows * K }, () => ((next() % 20001) - 10000) / 997);
        if (values.length > 40) values.fill(0, 0, 40);
        for (const [blockSize, bits] of [4, 16, 32, 64].flatMap((bs) =>
          ([8, 4] as const).map((b) => [bs, b] as const),
        )) {
          const a = k.quantizeBlocks(values, rows, K, blockSize, bits);
          const codes = a.codes.slice();
          const scales = a.scales.slice();
          const b = reference.quantizeBlocks(values, rows, K, blockSize, bits);
          expect(firstDifference(codes, b.codes)).toBe('none');
          expect(firstDifference(new Uint8Array(scales.buffer), new Uint8Array(b.scales.buffer))).toBe(
            'none',
          );
        }
      }
    }
  });

  it('packNBits2 reports the same value outside -1..1', () => {
    const next = rng(10);
    for (let trial = 0; trial < 200; trial++) {
      const [rows, K] = [1 + (next() % 3), 1 + (next() % 150)];
      const ternary = randomTernary(next, rows * K);
      for (let bad = next() % 3; bad > 0; bad--)
        ternary[next() % ternary.length] = ((next() & 0xff) << 24) >> 24;
      expect(errorOf(() => k.packNBits2(ternary, rows, K, 32))).toEqual(
        errorOf(() => reference.packNBits2(ternary, rows, K, 32)),
      );
    }
  });

  it('accepts its own output view as the next input', () => {
    const next = rng(11);
    const [R, cols] = [37, 200];
    const packed = randomPacked(next, R * cols);
    for (let block = 0; block < 4; block++) {
      const expected = reference.packNBits2(reference.unpackTernaryI8(packed, block), R, cols, 64);
      const actual = k.packNBits2(k.unpackTernaryI8(packed, block), R, cols, 64);
      expect(firstDifference(actual, expected)).toBe('none');
    }
  });

  describe('fed its own output view while its memory grows', () => {
    // Each call below needs more memory than the one before, so the input view would be detached
    // mid-call unless the implementation copied it out first.
    async function ownView(packed: Uint8Array): Promise<[Kernels, Uint8Array]> {
      const fresh = await loadNodeKernels(build);
      const own = fresh.unpackTernaryI8(packed, 0);
      return [fresh, new Uint8Array(own.buffer, own.byteOffset, own.length)];
    }

    it('computes the same result', async () => {
      const next = rng(12);
      const [fresh, input] = await ownView(new Uint8Array(1 << 16).map(() => 1 + (next() % 2)));
      const expected = reference.unpackTernaryF32(input.slice(), 0);
      expect(firstDifference(fresh.unpackTernaryF32(input, 0), expected)).toBe('none');
    });

    it('reports the same corrupt byte', async () => {
      const next = rng(13);
      // Code 0 unpacks to -1, which read back as a packed byte (0xff) holds code 3.
      const [fresh, input] = await ownView(new Uint8Array(1 << 16).map(() => (next() % 1000 === 0 ? 0 : 1)));
      const expected = errorOf(() => reference.unpackTernaryF32(input.slice(), 0));
      expect(expected).toMatch(/code 3 in byte \d+/);
      expect(errorOf(() => fresh.unpackTernaryF32(input, 0))).toBe(expected);
    });
  });

  it('reuses its memory: same-size calls return views on the same buffer', () => {
    const bytes = randomBf16(rng(5), 1 << 16);
    const first = k.bf16ToF32(bytes);
    const expected = bytesOf(first);
    const second = k.bf16ToF32(bytes);
    expect(second.buffer).toBe(first.buffer);
    k.bf16ToF32(randomBf16(rng(6), 10)); // smaller call: no growth, same layout
    expect(firstDifference(k.bf16ToF32(bytes), expected)).toBe('none');
  });
});

function randomRange(next: () => number, cols: number): [number, number] {
  const a = next() % (cols + 1);
  const b = next() % (cols + 1);
  return [Math.min(a, b), Math.max(a, b)];
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return String(e);
  }
}
