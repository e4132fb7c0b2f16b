/**
 * onnxruntime-web's WebGPU backend, for generation in the tab. Its own build of the runtime (the JS
 * bundle and the asyncify WASM binary it drives the GPU through) is served by this app like the WASM
 * backend's, never from a CDN. This module is imported on demand, so a page that never picks WebGPU
 * never loads it.
 */
import * as ort from 'onnxruntime-web/webgpu';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import ortGlueUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import type { DecoderSession } from '../core/check/decoder-session.ts';
import { adaptSession } from './adapt-session.ts';
import type { ModelBytes } from './ort-web.ts';

let configured = false;

function configure(): void {
  if (configured) return;
  configured = true;
  ort.env.wasm.wasmPaths = {
    wasm: new URL(ortWasmUrl, self.location.href).href,
    mjs: new URL(ortGlueUrl, self.location.href).href,
  };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}

export interface WebGpuSession {
  session: DecoderSession;
  /**
   * Undefined when every node runs on the GPU; otherwise onnxruntime's reason why the graph could not
   * load without its CPU fallback (the session then runs those nodes on the CPU).
   */
  cpuFallback?: string;
}

/**
 * A WebGPU session. It is first created with onnxruntime's CPU fallback disabled, so a graph with a
 * node the WebGPU backend does not take fails with onnxruntime's own message; only then is it created
 * again with the fallback, and that message is reported instead of hidden.
 */
export async function openWebGpuSession(bytes: ModelBytes): Promise<WebGpuSession> {
  configure();
  const create = (fallback: boolean) =>
    ort.InferenceSession.create(bytes.model, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      externalData: bytes.externalData,
      logSeverityLevel: 3,
      extra: { session: { disable_cpu_ep_fallback: fallback ? '0' : '1' } },
    });
  let cpuFallback: string | undefined;
  let session: ort.InferenceSession;
  try {
    session = await create(false);
  } catch (e) {
    cpuFallback = (e as Error)?.message ?? String(e);
    session = await create(true);
  }
  return {
    session: adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims)),
    cpuFallback,
  };
}

/** The WebGPU adapter this browser offers, or why there is none. */
export async function webGpuAdapter(): Promise<
  { available: true; name: string } | { available: false; reason: string }
> {
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu;
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'WebGPU offers no adapter here' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'GPU';
    return { available: true, name };
  } catch (e) {
    return { available: false, reason: `WebGPU adapter request failed: ${(e as Error)?.message ?? e}` };
  }
}

/** The part of navigator.gpu used here (the WebGPU type definitions are not a dependency). */
interface GpuLike {
  requestAdapter(): Promise<{
    info?: { vendor?: string; architecture?: string; description?: string };
  } | null>;
}
