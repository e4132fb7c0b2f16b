/**
 * The AssemblyScript kernels, served by the app itself (Vite copies the .wasm builds as assets):
 * the SIMD build where the engine validates it, the scalar twin otherwise.
 */
import simdUrl from '../../assembly/build/kernels-simd.wasm?url';
import scalarUrl from '../../assembly/build/kernels-scalar.wasm?url';
import type { Kernels } from '../core/kernels/kernels.ts';
import { wasmSimdSupported } from '../core/kernels/simd-support.ts';
import { createWasmKernels } from '../core/kernels/wasm-kernels.ts';

let loading: Promise<Kernels> | undefined;

export function loadKernels(): Promise<Kernels> {
  loading ??= load().catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function load(): Promise<Kernels> {
  const url = wasmSimdSupported() ? simdUrl : scalarUrl;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load the conversion kernels (${url}: HTTP ${response.status})`);
  return createWasmKernels(await response.arrayBuffer());
}
