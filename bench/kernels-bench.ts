/**
 * Kernel throughput on BitNet-2B-sized inputs, through the public Kernels API (so the copy into WASM
 * memory is included). Run: npm run build:wasm && npx tsx bench/kernels-bench.ts [simd|scalar|reference]...
 */
import type { Kernels } from '../src/core/kernels/kernels.ts';
import { createReferenceKernels } from '../src/core/kernels/reference-kernels.ts';
import { loadNodeKernels } from '../src/platform/node/load-kernels.ts';

/** gate_proj / up_proj of BitNet-2B: packed [1728, 2560]. */
const R = 1728;
const COLS = 2560;
/** The converter's read window for float tensors. */
const WINDOW = 8 << 20;
/** Columns per transposed chunk: [256, 6912] int8 is 1.7 MB of output per call. */
const CHUNK = 256;
const SECONDS = 0.6;

interface Case {
  name: string;
  /** Runs the kernel once; returns bytes of input read and output written. */
  run(k: Kernels): { input: number; output: number };
}

function makeCases(scale: number): Case[] {
  const rows = Math.max(16, Math.floor(R / scale));
  const packed = validPacked(rows * COLS);
  const bf16 = weightLikeBf16(Math.floor(WINDOW / scale / 2));
  const ternary = new Int8Array(4 * rows * COLS).map((_, i) => (i % 3) - 1);
  return [
    {
      name: 'unpackTernaryF32',
      run: (k) => ({ input: packed.length, output: k.unpackTernaryF32(packed, 1).byteLength }),
    },
    {
      name: 'unpackTernaryI8',
      run: (k) => ({ input: packed.length, output: k.unpackTernaryI8(packed, 1).byteLength }),
    },
    { name: 'firstBadCode', run: (k) => (k.firstBadCode(packed), { input: packed.length, output: 0 }) },
    { name: 'bf16ToF32', run: (k) => ({ input: bf16.length, output: k.bf16ToF32(bf16).byteLength }) },
    { name: 'absSumBf16', run: (k) => (k.absSumBf16(bf16), { input: bf16.length, output: 0 }) },
    {
      name: 'ternariseBf16F32',
      run: (k) => ({ input: bf16.length, output: k.ternariseBf16F32(bf16, 40).byteLength }),
    },
    {
      name: 'ternariseBf16I8',
      run: (k) => ({ input: bf16.length, output: k.ternariseBf16I8(bf16, 40).byteLength }),
    },
    {
      name: `transposedTernaryI8 (${CHUNK}-col chunks)`,
      run: (k) => {
        let output = 0;
        for (let k0 = 0; k0 < COLS; k0 += CHUNK)
          output += k.transposedTernaryI8(packed, rows, COLS, k0, k0 + CHUNK).byteLength;
        return { input: packed.length, output };
      },
    },
    {
      name: 'packNBits2 (block 32)',
      run: (k) => ({ input: ternary.length, output: k.packNBits2(ternary, 4 * rows, COLS, 32).byteLength }),
    },
  ];
}

function validPacked(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++)
    out[i] = (i * 2654435761) % 81 === 0 ? 0x55 : [0x00, 0x19, 0x62, 0xa6, 0x45][i % 5];
  return out;
}

function weightLikeBf16(count: number): Uint8Array {
  const f32 = new Float32Array(count).map((_, i) => Math.sin(i * 12.9898) * 0.05);
  const halves = new Uint16Array(f32.buffer).filter((_, i) => i % 2 === 1);
  return new Uint8Array(halves.buffer);
}

function measure(k: Kernels, c: Case): string {
  c.run(k); // warm up: compile tiers, grow memory
  let input = 0;
  let output = 0;
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    const bytes = c.run(k);
    input += bytes.input;
    output += bytes.output;
    calls++;
  }
  const seconds = (performance.now() - start) / 1000;
  const rate = (bytes: number) => (bytes / seconds / 1e9).toFixed(2).padStart(6);
  return `${c.name.padEnd(36)} in ${rate(input)} GB/s   out ${rate(output)} GB/s   (${calls} calls)`;
}

async function main(): Promise<void> {
  const kinds = process.argv.slice(2);
  for (const kind of kinds.length ? kinds : ['simd', 'scalar']) {
    const isReference = kind === 'reference';
    const k = isReference ? createReferenceKernels() : await loadNodeKernels(kind as 'simd' | 'scalar');
    console.log(`\n${k.name}${isReference ? ' (inputs 1/16 size)' : ''}`);
    for (const c of makeCases(isReference ? 16 : 1)) console.log(measure(k, c));
  }
}

await main();
