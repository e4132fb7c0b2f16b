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
import { configureServedWasm } from './wasm-env.ts';
import type { ModelBytes } from './ort-web.ts';

let configured = false;

function configure(): void {
  if (configured) return;
  configured = true;
  installConsoleTap();
  configureServedWasm(ort.env, ortWasmUrl, ortGlueUrl);
}

export interface WebGpuSession {
  session: DecoderSession;
  /**
   * Nodes onnxruntime runs on the CPU instead (op type → count), as its own node placement log says;
   * empty when every node runs on the GPU.
   */
  cpuNodes: Record<string, number>;
}

/**
 * A WebGPU session. It is first created with onnxruntime's CPU fallback disabled; when that fails
 * because some node has no WebGPU kernel (or is a shape computation onnxruntime keeps on the CPU by
 * design), it is created again with the fallback and verbose logging, and onnxruntime's node placement
 * log (from a throwaway verbose session) tells which nodes went to the CPU, so the page can say so
 * instead of hiding it.
 */
export async function openWebGpuSession(bytes: ModelBytes): Promise<WebGpuSession> {
  configure();
  const create = (mode: 'strict' | 'placement-log' | 'fallback') =>
    ort.InferenceSession.create(bytes.model, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      externalData: bytes.externalData,
      // The strict attempt's expected failure is not an error to log; the placement log is verbose.
      logSeverityLevel: mode === 'strict' ? 4 : mode === 'placement-log' ? 0 : 3,
      extra: { session: { disable_cpu_ep_fallback: mode === 'strict' ? '1' : '0' } },
    });
  let session: ort.InferenceSession;
  let cpuNodes: Record<string, number> = {};
  try {
    session = await create('strict');
  } catch (strictError) {
    // A session made for its log only: a verbose session stays verbose for every run after.
    const { result, lines } = await captureConsole(() => create('placement-log'));
    await result.release();
    cpuNodes = cpuPlacements(lines);
    session = await create('fallback');
    if (Object.keys(cpuNodes).length === 0) {
      cpuNodes = { [`unknown (${(strictError as Error)?.message ?? strictError})`]: 1 };
    }
  }
  return {
    session: adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims)),
    cpuNodes,
  };
}

/**
 * onnxruntime's WASM module keeps the console functions it found when it started, so collecting its
 * log means the console functions must already be ours then: this installs forwarding wrappers once
 * (before the runtime starts), which pass everything through except while `captureConsole` runs.
 */
let collecting: string[] | undefined;
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;

function installConsoleTap(): void {
  for (const m of CONSOLE_METHODS) {
    const original = console[m].bind(console);
    console[m] = (...args: unknown[]) => {
      if (collecting) collecting.push(args.map(String).join(' '));
      else original(...args);
    };
  }
}

async function captureConsole<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  collecting = lines;
  try {
    return { result: await run(), lines };
  } finally {
    collecting = undefined;
  }
}

/** Op types listed under `Node(s) placed on [CPUExecutionProvider]` in onnxruntime's placement log. */
export function cpuPlacements(lines: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  let inCpu = false;
  for (const line of lines) {
    if (/Node\(s\) placed on \[/.test(line)) {
      inCpu = line.includes('[CPUExecutionProvider]');
      continue;
    }
    if (!inCpu) continue;
    const node = line.match(/VerifyEachNodeIsAssignedToAnEp\]\s+(\S+) \(/);
    if (!node) {
      inCpu = false;
      continue;
    }
    counts[node[1]] = (counts[node[1]] ?? 0) + 1;
  }
  return counts;
}
