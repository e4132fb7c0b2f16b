/**
 * The browser's only door to onnxruntime: its CPU/WASM backend, loaded from files this app serves
 * itself (never a CDN). The conversion's check runs on one thread; generation uses more when the page
 * is cross-origin isolated (`wasmThreads`).
 */
import * as ort from 'onnxruntime-web/wasm';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import ortGlueUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import type { DecoderSession } from '../core/check/decoder-session.ts';
import { adaptSession } from './adapt-session.ts';
import { configureServedWasm, wasmThreads } from './wasm-env.ts';
import type { ByteSource } from '../core/io/bytes.ts';

export { wasmThreads };

let configured = false;

/** The first session of a worker fixes its thread count (the runtime starts its threads once). */
function configure(threads = 1): void {
  if (configured) return;
  configured = true;
  configureServedWasm(ort.env, ortWasmUrl, ortGlueUrl, threads);
}

/** A model and its external data files, whole (onnxruntime-web copies them into its heap anyway). */
export interface ModelBytes {
  model: Uint8Array;
  /** `path` as the model's external_data entries name it (relative to the model's folder). */
  externalData: { path: string; data: Uint8Array }[];
}

/** A session on the WASM backend (CPU; threads: `wasmThreads`) over model bytes, for generation in the tab. */
export async function openWasmSession(bytes: ModelBytes): Promise<DecoderSession> {
  configure(wasmThreads());
  const session = await ort.InferenceSession.create(bytes.model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    externalData: bytes.externalData,
    logSeverityLevel: 3,
  });
  return adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims));
}

export interface WebSessionFiles {
  /** Reads a file of the (staged) output by name. */
  open: (name: string) => Promise<ByteSource | undefined>;
  modelFile: string;
  /** External data files as named in the output target (`model.onnx_data`, …), if any. */
  dataFiles: readonly string[];
}

/**
 * A session over the staged model. onnxruntime-web copies the model and every external file into
 * its heap anyway, so they are read whole here; callers keep this for models that fit that heap.
 */
export async function openWebSession(files: WebSessionFiles): Promise<DecoderSession> {
  configure();
  const model = await readWhole(files.open, files.modelFile);
  const externalData = await Promise.all(
    files.dataFiles.map(async (name) => ({
      path: relativeToModel(files.modelFile, name),
      data: await readWhole(files.open, name),
    })),
  );
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    externalData,
    logSeverityLevel: 3,
  });
  return adaptSession(session, (type, data, dims) => new ort.Tensor(type, data, dims));
}

async function readWhole(open: WebSessionFiles['open'], name: string): Promise<Uint8Array> {
  const source = await open(name);
  if (!source) throw new Error(`runtime check: ${name} was not written`);
  return source.read(0, source.size);
}

/** external_data locations are relative to the model file's folder. */
function relativeToModel(modelFile: string, name: string): string {
  const folder = modelFile.slice(0, modelFile.lastIndexOf('/') + 1);
  return name.startsWith(folder) ? name.slice(folder.length) : name;
}
