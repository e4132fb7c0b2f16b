import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { wasmSimdSupported } from '../../src/core/kernels/simd-support.ts';
import { createWasmKernels } from '../../src/core/kernels/wasm-kernels.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';

describe('loading the WASM kernels', () => {
  it('detects SIMD support (Node 20 has it)', () => {
    expect(wasmSimdSupported()).toBe(true);
  });

  it("picks the SIMD build for 'auto'", async () => {
    expect((await loadNodeKernels()).name).toBe('wasm-simd');
  });

  it('accepts a compiled module and a custom name', async () => {
    const bytes = await readFile(new URL('../../assembly/build/kernels-scalar.wasm', import.meta.url));
    const kernels = await createWasmKernels(new WebAssembly.Module(bytes), 'mine');
    expect(kernels.name).toBe('mine');
    expect(Array.from(kernels.unpackTernaryI8(new Uint8Array([0b10]), 0))).toEqual([1]);
  });

  it('refuses a module that is not a kernels build', async () => {
    const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expect(createWasmKernels(empty)).rejects.toThrow(/not a bitnet2onnx kernels module/);
  });

  it('tells the user to build the kernels when they are missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'no-kernels-'));
    try {
      await expect(loadNodeKernels('scalar', pathToFileURL(dir + '/'))).rejects.toThrow(/npm run build:wasm/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
