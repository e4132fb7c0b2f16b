import type { Env } from 'onnxruntime-web';

/** Most threads the WASM backend starts (more add little on a decode step and cost memory). */
const MAX_WASM_THREADS = 4;

/**
 * Threads for onnxruntime-web's WASM backend: threads need SharedArrayBuffer, i.e. a cross-origin
 * isolated page (COOP/COEP headers, which a static host may not send); one thread otherwise.
 */
export function wasmThreads(): number {
  if (!self.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(MAX_WASM_THREADS, navigator.hardwareConcurrency || 1));
}

/**
 * Points an onnxruntime-web build at the WASM binary and glue script this app serves (never a CDN), as
 * absolute URLs (the runtime resolves relative ones against its own chunk, not the page), on `threads`
 * threads (1 by default; `wasmThreads()` where the page may be cross-origin isolated).
 */
export function configureServedWasm(env: Env, wasmUrl: string, glueUrl: string, threads = 1): void {
  env.wasm.wasmPaths = {
    wasm: new URL(wasmUrl, self.location.href).href,
    mjs: new URL(glueUrl, self.location.href).href,
  };
  env.wasm.numThreads = threads;
  env.wasm.proxy = false;
  env.logLevel = 'error';
}
