import type { Env } from 'onnxruntime-web';

/**
 * Points an onnxruntime-web build at the WASM binary and glue script this app serves (never a CDN), as
 * absolute URLs (the runtime resolves relative ones against its own chunk, not the page), and keeps it on
 * one thread: threads need SharedArrayBuffer, i.e. cross-origin isolation headers a static host may not send.
 */
export function configureServedWasm(env: Env, wasmUrl: string, glueUrl: string): void {
  env.wasm.wasmPaths = {
    wasm: new URL(wasmUrl, self.location.href).href,
    mjs: new URL(glueUrl, self.location.href).href,
  };
  env.wasm.numThreads = 1;
  env.wasm.proxy = false;
  env.logLevel = 'error';
}
