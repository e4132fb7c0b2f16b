import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { wasmSimdSupported } from '../../src/core/kernels/simd-support.ts';
import { createWasmKernels } from '../../src/core/kernels/wasm-kernels.ts';
import { EnvironmentError } from '../../src/core/errors.ts';
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
      const err = await loadNodeKernels('scalar', pathToFileURL(dir + '/')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as Error).message).toMatch(
        /kernels-scalar\.wasm: WASM kernels not built \(ENOENT\); they ship with bitnet2onnx: reinstall the package.*npm run build:wasm/,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('a kernels file that cannot be read (not ENOENT) is an environment error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bad-kernels-'));
    try {
      // A folder where the file should be: reading it fails with EISDIR, whatever the user's rights.
      await mkdir(join(dir, 'kernels-scalar.wasm'));
      const err = await loadNodeKernels('scalar', pathToFileURL(dir + '/')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as Error).message).toContain(join(dir, 'kernels-scalar.wasm'));
      expect((err as Error).message).toMatch(
        /cannot read the WASM kernels \(EISDIR\); make the file readable/,
      );
      expect((err as Error).message).not.toMatch(/\n/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('a damaged kernels file is an environment error that says to rebuild', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'damaged-kernels-'));
    try {
      await writeFile(join(dir, 'kernels-scalar.wasm'), 'not wasm');
      const err = await loadNodeKernels('scalar', pathToFileURL(dir + '/')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as Error).message).toMatch(/do not load .*npm run build:wasm/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
