import {
  checkBf16Bytes,
  checkBlock,
  checkPackNBits2Args,
  checkQuantizeBlocksArgs,
  checkTransposeArgs,
  firstCode3InColumns,
  hasCode3,
  nBits2RowBytes,
  nonTernaryError,
  pinnedRowBytes,
  TernaryCodeError,
  type Kernels,
  type BlockBits,
  type Blocks,
} from './kernels.ts';

/**
 * The readable specification of every kernel, in plain TypeScript: each function follows the contract
 * in kernels.ts literally, without the shortcuts the WASM kernels take. Tests hold the WASM builds to
 * these outputs byte for byte. Slow, allocates per call; never used on the conversion path.
 */
export function createReferenceKernels(): Kernels {
  return {
    name: 'reference',
    unpackTernaryF32: (packed, block) => Float32Array.from(unpackTernary(packed, block)),
    unpackTernaryI8: (packed, block) => Int8Array.from(unpackTernary(packed, block)),
    firstBadCode: (packed) => packed.findIndex(hasCode3),
    bf16ToF32,
    absSumBf16,
    ternariseBf16F32: (bytes, c) => Float32Array.from(ternarise(bytes, c)),
    ternariseBf16I8: (bytes, c) => Int8Array.from(ternarise(bytes, c)),
    transposedTernaryI8,
    packNBits2,
    packNBits2Pinned,
    quantizeBlocks,
  };
}

const TERNARY_OF_CODE = [-1, 0, 1];

function unpackTernary(packed: Uint8Array, block: number): number[] {
  checkBlock(block);
  const values = new Array<number>(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const code = (packed[i] >> (2 * block)) & 3;
    if (code === 3) throw new TernaryCodeError(i);
    values[i] = TERNARY_OF_CODE[code];
  }
  return values;
}

function bf16Bits(bytes: Uint8Array, i: number): number {
  return bytes[2 * i] | (bytes[2 * i + 1] << 8);
}

function bf16ToF32(bytes: Uint8Array): Float32Array {
  checkBf16Bytes(bytes);
  const out = new Float32Array(bytes.length / 2);
  // Writing bit patterns, never float values, keeps NaN payloads exact.
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) bits[i] = bf16Bits(bytes, i) << 16;
  return out;
}

const scratchF32 = new Float32Array(1);
const scratchBits = new Uint32Array(scratchF32.buffer);

function bf16Value(bytes: Uint8Array, i: number): number {
  scratchBits[0] = bf16Bits(bytes, i) << 16;
  return scratchF32[0];
}

const LANES = 8;

function absSumBf16(bytes: Uint8Array): number {
  checkBf16Bytes(bytes);
  const lanes = new Array<number>(LANES).fill(0);
  const count = bytes.length / 2;
  for (let i = 0; i < count; i++) lanes[i % LANES] += Math.abs(bf16Value(bytes, i));
  let sum = lanes[0];
  for (let lane = 1; lane < LANES; lane++) sum += lanes[lane];
  return sum;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function ternarise(bytes: Uint8Array, c: number): number[] {
  checkBf16Bytes(bytes);
  const c32 = Math.fround(c);
  const values = new Array<number>(bytes.length / 2);
  for (let i = 0; i < values.length; i++) {
    // The float64 product of two float32 values is exact, so fround gives float32 multiplication.
    const x = Math.fround(bf16Value(bytes, i) * c32);
    const t = Number.isNaN(x) ? 0 : Math.min(1, Math.max(-1, roundHalfEven(x)));
    values[i] = t === 0 ? 0 : t; // no -0
  }
  return values;
}

function transposedTernaryI8(packed: Uint8Array, R: number, cols: number, k0: number, k1: number): Int8Array {
  checkTransposeArgs(packed, R, cols, k0, k1);
  const bad = firstCode3InColumns(packed, cols, k0, k1);
  if (bad >= 0) throw new TernaryCodeError(bad);
  const out = new Int8Array((k1 - k0) * 4 * R);
  for (let k = k0; k < k1; k++) {
    for (let row = 0; row < 4 * R; row++) {
      // T[row][k] lives in packed row row % R, at the bits of row block floor(row / R).
      const block = Math.floor(row / R);
      const code = (packed[(row % R) * cols + k] >> (2 * block)) & 3;
      out[(k - k0) * 4 * R + row] = TERNARY_OF_CODE[code];
    }
  }
  return out;
}

function packNBits2Pinned(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array {
  checkPackNBits2Args(ternary, rows, K, blockSize);
  if (ternary.some((t) => t < -1 || t > 1)) throw nonTernaryError(ternary);
  const per = blockSize - 1;
  const rowBytes = pinnedRowBytes(K, blockSize);
  const out = new Uint8Array(rows * rowBytes);
  for (let n = 0; n < rows; n++) {
    for (let slot = 0; slot < rowBytes * 4; slot++) {
      const b = Math.floor(slot / blockSize);
      const inBlock = slot % blockSize;
      const k = b * per + inBlock;
      const code = inBlock < per && k < K ? ternary[n * K + k] + 2 : 2;
      out[n * rowBytes + (slot >> 2)] |= code << (2 * (slot & 3));
    }
  }
  return out;
}

function quantizeBlocks(
  values: Float32Array,
  rows: number,
  K: number,
  blockSize: number,
  bits: BlockBits,
): Blocks {
  checkQuantizeBlocksArgs(values, rows, K, blockSize, bits);
  const blocks = Math.ceil(K / blockSize);
  const zero = 1 << (bits - 1);
  const codes = new Uint8Array(rows * blocks * blockSize).fill(zero);
  const scales = new Float32Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * K + b * blockSize;
      const to = r * K + Math.min(K, (b + 1) * blockSize);
      let max = 0;
      for (let i = from; i < to; i++) max = Math.max(max, Math.abs(values[i]));
      const scale = Math.fround(max / (zero - 1));
      scales[r * blocks + b] = scale;
      if (scale === 0) continue;
      const out = (r * blocks + b) * blockSize;
      for (let i = from; i < to; i++)
        codes[out + i - from] = zero + roundHalfEven(Math.fround(values[i] / scale));
    }
  }
  if (bits === 8) return { codes, scales };
  const packed = new Uint8Array(codes.length / 2);
  for (let i = 0; i < packed.length; i++) packed[i] = codes[2 * i] | (codes[2 * i + 1] << 4);
  return { codes: packed, scales };
}

function packNBits2(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array {
  checkPackNBits2Args(ternary, rows, K, blockSize);
  if (ternary.some((t) => t < -1 || t > 1)) throw nonTernaryError(ternary);
  const rowBytes = nBits2RowBytes(K, blockSize);
  const out = new Uint8Array(rows * rowBytes);
  for (let n = 0; n < rows; n++) {
    for (let k = 0; k < rowBytes * 4; k++) {
      const code = k < K ? ternary[n * K + k] + 2 : 2;
      out[n * rowBytes + (k >> 2)] |= code << (2 * (k & 3));
    }
  }
  return out;
}
