/**
 * Whether this browser offers a WebGPU adapter, asked on the page (workers see the same adapters), so
 * the backend choice shows before any model is loaded and without starting the generation worker.
 */
import type { WebGpuSupport } from '../worker/api.ts';

/** The part of navigator.gpu used here (the WebGPU type definitions are not a dependency). */
interface GpuLike {
  requestAdapter(): Promise<{
    info?: { vendor?: string; architecture?: string; description?: string };
  } | null>;
}

export async function webGpuSupport(): Promise<WebGpuSupport> {
  const gpu = (globalThis.navigator as unknown as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'WebGPU offers no adapter here' };
    const info = adapter.info ?? {};
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'GPU';
    return { available: true, name };
  } catch (e) {
    return { available: false, reason: `the WebGPU adapter request failed: ${(e as Error)?.message ?? e}` };
  }
}
