import {
  checkBf16Bytes,
  checkBlock,
  checkPackNBits2Args,
  checkQuantizeBlocksArgs,
  checkTransposeArgs,
  firstCode3At,
  firstCode3InColumns,
  nBits2RowBytes,
  nonTernaryError,
  pinnedRowBytes,
  TernaryCodeError,
  type Kernels,
  type BlockBits,
  type Blocks,
} from './kernels.ts';

/**
 * What assembly/index.ts exports. Pointers and lengths are byte addresses and counts in the module's
 * memory (numbers ≥ 2^31 wrap to negative i32 on the way in, which WASM reads back as the same u32).
 * Functions returning a flag return 1 when the input held something the contract rejects.
 */
interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  simdEnabled(): number;
  unpackTernaryF32(src: number, n: number, block: number, dst: number): number;
  unpackTernaryI8(src: number, n: number, block: number, dst: number): number;
  firstBadCode(src: number, n: number): number;
  bf16ToF32(src: number, count: number, dst: number): void;
  absSumBf16(src: number, count: number): number;
  ternariseBf16F32(src: number, count: number, c: number, dst: number): void;
  ternariseBf16I8(src: number, count: number, c: number, dst: number): void;
  transposedTernaryI8(src: number, rows: number, cols: number, dst: number): number;
  packNBits2(src: number, rows: number, K: number, blockSize: number, dst: number): number;
  packNBits2Pinned(src: number, rows: number, K: number, blockSize: number, dst: number): number;
  quantizeBlocks(
    src: number,
    rows: number,
    K: number,
    blockSize: number,
    bits: number,
    codes: number,
    scales: number,
  ): void;
}

const EXPORTED_FUNCTIONS = [
  'heapBase',
  'simdEnabled',
  'unpackTernaryF32',
  'unpackTernaryI8',
  'firstBadCode',
  'bf16ToF32',
  'absSumBf16',
  'ternariseBf16F32',
  'ternariseBf16I8',
  'transposedTernaryI8',
  'packNBits2',
  'packNBits2Pinned',
  'quantizeBlocks',
] as const;

/**
 * Instantiates a kernels build (assembly/build/kernels-simd.wasm or kernels-scalar.wasm) from its bytes
 * or a compiled module. The name defaults to `wasm-simd` / `wasm-scalar`, as reported by the module.
 */
export async function createWasmKernels(
  wasm: BufferSource | WebAssembly.Module,
  name?: string,
): Promise<Kernels> {
  const instance =
    wasm instanceof WebAssembly.Module
      ? await WebAssembly.instantiate(wasm, {})
      : (await WebAssembly.instantiate(wasm, {})).instance;
  const exports = instance.exports as unknown as KernelExports;
  for (const fn of EXPORTED_FUNCTIONS) {
    if (typeof exports[fn] !== 'function')
      throw new Error(`not a bitnet2onnx kernels module: no export ${fn}`);
  }
  if (!(exports.memory instanceof WebAssembly.Memory))
    throw new Error('not a bitnet2onnx kernels module: no memory');
  return new WasmKernels(exports, name ?? (exports.simdEnabled() ? 'wasm-simd' : 'wasm-scalar'));
}

const PAGE_BYTES = 65536;
/** A 32-bit WASM memory can address at most 4 GiB. */
const MAX_MEMORY_BYTES = 65536 * PAGE_BYTES;

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** Where one call's input and output live in WASM memory. */
interface Placement {
  src: number;
  dst: number;
}

/**
 * JavaScript owns the memory layout: every call puts its input at the heap base and its output right
 * after it, growing the memory only when a call needs more than any before. Memory therefore stays at
 * the size of the largest call, and views handed out last until the next call (or growth) replaces them.
 */
class WasmKernels implements Kernels {
  private readonly base: number;

  constructor(
    private readonly x: KernelExports,
    readonly name: string,
  ) {
    this.base = align16(x.heapBase());
  }

  // Every method reads input lengths before `place`: growing the memory there detaches any input
  // that was a view of it.

  unpackTernaryF32(packed: Uint8Array, block: number): Float32Array {
    checkBlock(block);
    const n = packed.length;
    const { src, dst } = this.place(packed, n * 4);
    const sawCode3 = this.x.unpackTernaryF32(src, n, block, dst);
    if (sawCode3) throw new TernaryCodeError(firstCode3At(this.bytesAt(src, n), block));
    return new Float32Array(this.buffer, dst, n);
  }

  unpackTernaryI8(packed: Uint8Array, block: number): Int8Array {
    checkBlock(block);
    const n = packed.length;
    const { src, dst } = this.place(packed, n);
    const sawCode3 = this.x.unpackTernaryI8(src, n, block, dst);
    if (sawCode3) throw new TernaryCodeError(firstCode3At(this.bytesAt(src, n), block));
    return new Int8Array(this.buffer, dst, n);
  }

  firstBadCode(packed: Uint8Array): number {
    const n = packed.length;
    const { src } = this.place(packed, 0);
    return this.x.firstBadCode(src, n);
  }

  bf16ToF32(bytes: Uint8Array): Float32Array {
    checkBf16Bytes(bytes);
    const count = bytes.length / 2;
    const { src, dst } = this.place(bytes, count * 4);
    this.x.bf16ToF32(src, count, dst);
    return new Float32Array(this.buffer, dst, count);
  }

  absSumBf16(bytes: Uint8Array): number {
    checkBf16Bytes(bytes);
    const count = bytes.length / 2;
    const { src } = this.place(bytes, 0);
    return this.x.absSumBf16(src, count);
  }

  ternariseBf16F32(bytes: Uint8Array, c: number): Float32Array {
    checkBf16Bytes(bytes);
    const count = bytes.length / 2;
    const { src, dst } = this.place(bytes, count * 4);
    this.x.ternariseBf16F32(src, count, c, dst); // an f32 parameter rounds c exactly like Math.fround
    return new Float32Array(this.buffer, dst, count);
  }

  ternariseBf16I8(bytes: Uint8Array, c: number): Int8Array {
    checkBf16Bytes(bytes);
    const count = bytes.length / 2;
    const { src, dst } = this.place(bytes, count);
    this.x.ternariseBf16I8(src, count, c, dst);
    return new Int8Array(this.buffer, dst, count);
  }

  transposedTernaryI8(packed: Uint8Array, R: number, cols: number, k0: number, k1: number): Int8Array {
    checkTransposeArgs(packed, R, cols, k0, k1);
    const width = k1 - k0;
    const outBytes = width * 4 * R;
    const source = this.outsideMemory(packed);
    const { src, dst } = this.reserve(R * width, outBytes);
    // Only the requested columns travel into WASM, as a compact [R, width] slab.
    const memory = new Uint8Array(this.buffer);
    for (let r = 0; r < R; r++) memory.set(source.subarray(r * cols + k0, r * cols + k1), src + r * width);
    if (this.x.transposedTernaryI8(src, R, width, dst)) {
      throw new TernaryCodeError(firstCode3InColumns(source, cols, k0, k1));
    }
    return new Int8Array(this.buffer, dst, outBytes);
  }

  packNBits2(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array {
    checkPackNBits2Args(ternary, rows, K, blockSize);
    const outBytes = rows * nBits2RowBytes(K, blockSize);
    const n = ternary.length;
    const { src, dst } = this.place(new Uint8Array(ternary.buffer, ternary.byteOffset, n), outBytes);
    if (this.x.packNBits2(src, rows, K, blockSize, dst)) {
      throw nonTernaryError(new Int8Array(this.buffer, src, n));
    }
    return new Uint8Array(this.buffer, dst, outBytes);
  }

  packNBits2Pinned(ternary: Int8Array, rows: number, K: number, blockSize: number): Uint8Array {
    checkPackNBits2Args(ternary, rows, K, blockSize);
    const outBytes = rows * pinnedRowBytes(K, blockSize);
    const n = ternary.length;
    const { src, dst } = this.place(new Uint8Array(ternary.buffer, ternary.byteOffset, n), outBytes);
    if (this.x.packNBits2Pinned(src, rows, K, blockSize, dst)) {
      throw nonTernaryError(new Int8Array(this.buffer, src, n));
    }
    return new Uint8Array(this.buffer, dst, outBytes);
  }

  quantizeBlocks(values: Float32Array, rows: number, K: number, blockSize: number, bits: BlockBits): Blocks {
    checkQuantizeBlocksArgs(values, rows, K, blockSize, bits);
    const blocks = Math.ceil(K / blockSize);
    const codeBytes = (rows * blocks * blockSize * bits) / 8;
    const scalesAt = align16(codeBytes);
    const input = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const { src, dst } = this.place(input, scalesAt + rows * blocks * 4);
    this.x.quantizeBlocks(src, rows, K, blockSize, bits, dst, dst + scalesAt);
    return {
      codes: new Uint8Array(this.buffer, dst, codeBytes),
      scales: new Float32Array(this.buffer, dst + scalesAt, rows * blocks),
    };
  }

  private get buffer(): ArrayBuffer {
    return this.x.memory.buffer;
  }

  /** The staged input of the current call, where error paths look for what the kernel rejected. */
  private bytesAt(src: number, length: number): Uint8Array {
    return new Uint8Array(this.buffer, src, length);
  }

  /**
   * The input itself, or a copy if it views this instance's memory (say, the previous call's output,
   * passed straight on): growing the memory would detach it, and this call's output may overwrite it.
   */
  private outsideMemory(input: Uint8Array): Uint8Array {
    return input.buffer === this.buffer ? input.slice() : input;
  }

  /**
   * Reserves room for input and output and copies the input in. An input that already lives in this
   * memory (the previous call's output, passed straight on) is used where it is, with the output placed
   * after it: no copy out and back, and growing the memory keeps its bytes (only old views detach).
   */
  private place(input: Uint8Array, outBytes: number): Placement {
    if (input.buffer === this.buffer && input.byteOffset >= this.base) {
      const src = input.byteOffset;
      const dst = align16(src + input.length);
      this.ensureMemory(dst + outBytes);
      return { src, dst };
    }
    const placement = this.reserve(input.length, outBytes);
    this.bytesAt(placement.src, input.length).set(input);
    return placement;
  }

  /** Lays out [input | output] from the heap base, 16-byte aligned, growing memory if needed. */
  private reserve(inBytes: number, outBytes: number): Placement {
    const src = this.base;
    const dst = align16(src + inBytes);
    this.ensureMemory(dst + outBytes);
    return { src, dst };
  }

  private ensureMemory(bytes: number): void {
    const have = this.x.memory.buffer.byteLength;
    if (bytes <= have) return;
    if (bytes > MAX_MEMORY_BYTES) {
      throw new RangeError(`kernel call needs ${bytes} bytes of WASM memory, more than the 4 GiB limit`);
    }
    try {
      this.x.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
    } catch (e) {
      throw new RangeError(
        `could not grow WASM kernel memory to ${Math.ceil(bytes / 2 ** 20)} MiB: ${String(e)}`,
      );
    }
  }
}
