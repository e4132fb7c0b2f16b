import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../core/errors.ts';
import type { Kernels } from '../../core/kernels/kernels.ts';
import { wasmSimdSupported } from '../../core/kernels/simd-support.ts';
import { createWasmKernels } from '../../core/kernels/wasm-kernels.ts';

export type KernelBuild = 'simd' | 'scalar';

/**
 * Where `npm run build:wasm` writes the kernels, relative to this file (src/platform/node). The builds are
 * committed and shipped in the package, so a clone or an install converts without a build step.
 */
const DEFAULT_BUILD_DIR = new URL('../../../assembly/build/', import.meta.url);

/**
 * Loads a WASM kernels build from assembly/build (or `buildDir`, a directory URL ending in `/`).
 * 'auto' (the default) picks SIMD when this Node supports it, else the scalar build.
 */
export async function loadNodeKernels(
  kind: KernelBuild | 'auto' = 'auto',
  buildDir: URL = DEFAULT_BUILD_DIR,
): Promise<Kernels> {
  const build: KernelBuild = kind === 'auto' ? (wasmSimdSupported() ? 'simd' : 'scalar') : kind;
  const file = new URL(`kernels-${build}.wasm`, buildDir);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EnvironmentError(
      code === 'ENOENT' ? 'WASM kernels not built' : 'cannot read the WASM kernels',
      {
        path: fileURLToPath(file),
        code,
        hint:
          code === 'ENOENT'
            ? 'they ship with bitnet2onnx: reinstall the package, or in a clone restore assembly/build with `git checkout` or `npm run build:wasm`'
            : 'make the file readable (or reinstall the package), then try again',
      },
      { cause: e },
    );
  }
  try {
    return await createWasmKernels(bytes, `wasm-${build}`);
  } catch (e) {
    throw new EnvironmentError(
      `the WASM kernels do not load (${(e as Error).message})`,
      {
        path: fileURLToPath(file),
        hint: 'rebuild them with `npm run build:wasm` (or reinstall the package)',
      },
      { cause: e },
    );
  }
}
