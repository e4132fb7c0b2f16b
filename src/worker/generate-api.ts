/**
 * The contract between the page and the generation worker: types only. Text goes in and comes out
 * through the model folder's tokenizer.json; without one, the prompt is token ids (`5,17,99`) and the
 * output is ids.
 */
import type { StopReason } from '../core/generate/decode-loop.ts';
import type { MemoryEstimate } from '../core/generate/memory-estimate.ts';
import type { Sampling } from '../core/generate/sampling.ts';
import type { InputFile, Problem } from './api.ts';

export type { InputFile, MemoryEstimate, Problem, Sampling, StopReason };

export type Backend = 'wasm' | 'webgpu';

export type WebGpuSupport = { available: true; name: string } | { available: false; reason: string };

export interface GeneratorModel {
  /** Every `.onnx` file offered, and the one loaded. */
  models: string[];
  model: string;
  dataFiles: string[];
  /** Bytes of the model and its external data. */
  bytes: number;
  backend: Backend;
  /** WASM: the threads onnxruntime-web runs on (more than 1 only on a cross-origin isolated page). */
  threads?: number;
  /** The memory the backend needs for this model, as estimated before loading it. */
  memory: MemoryEstimate;
  /** Whether a tokenizer.json came with the model (text prompts) or not (token id prompts). */
  tokenizer: boolean;
  vocabSize?: number;
  maxPositions?: number;
  stopIds: number[];
  loadSeconds: number;
  /**
   * WebGPU only: op type → number of nodes onnxruntime placed on the CPU instead (its placement log);
   * empty when every node runs on the GPU.
   */
  cpuNodes?: Record<string, number>;
}

export type LoadOutcome =
  | { ok: true; model: GeneratorModel }
  /**
   * `memory`: the model was refused before loading, because the estimate exceeds what the backend has;
   * then `models` and `model` say which files were offered and which one was refused.
   */
  | { ok: false; problem: Problem; memory?: MemoryEstimate; models?: string[]; model?: string };

export interface LoadOptions {
  /** The WASM heap limit the estimate assumes (default 4 GiB); a test hook to provoke the refusal. */
  wasmHeapBytes?: number;
}

export interface GenerationRequest {
  /** Text, or token ids separated by commas when the model has no tokenizer. */
  prompt: string;
  maxNewTokens: number;
  sampling: Sampling;
}

/** The generation so far, sent as tokens arrive. */
export interface GenerationUpdate {
  ids: number[];
  /** The decoded text of `ids` (with a tokenizer). */
  text?: string;
  elapsedMs: number;
  /** Tokens per second after the first token. */
  tokensPerSecond?: number;
}

export type GenerationOutcome =
  | {
      ok: true;
      promptIds: number[];
      ids: number[];
      text?: string;
      reason: StopReason;
      prefillMs: number;
      decodeMs: number;
      tokensPerSecond?: number;
    }
  | { ok: false; problem: Problem };

export interface GeneratorApi {
  /** Opens a converted model (its .onnx, external data, config and tokenizer files) on a backend. */
  load(files: InputFile[], backend: Backend, model?: string, options?: LoadOptions): Promise<LoadOutcome>;
  generate(
    request: GenerationRequest,
    onUpdate: (update: GenerationUpdate) => void,
  ): Promise<GenerationOutcome>;
  /** Ends the running generation after its current step; it resolves with reason `stopped`. */
  stop(): void;
  unload(): Promise<void>;
}
