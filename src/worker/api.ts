/**
 * The contract between the page and the conversion worker: types only, so the UI depends on nothing
 * the worker runs. Everything here crosses postMessage (structured clone); Blobs and folder handles
 * travel as references, never as copies of their bytes.
 */
import type { QuantVariant } from '../core/bitnet/dims.ts';
import type { EmbedStorage, FormatOptions, HeadMode, WeightFormat } from '../core/formats/registry.ts';
import type { RuntimeCheckReport } from '../core/check/runtime-check.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';

export type {
  EmbedStorage,
  FormatOptions,
  HeadMode,
  ProgressEvent,
  QuantVariant,
  RuntimeCheckReport,
  WeightFormat,
};

/** The output format a person picks; anything left out takes the engine's default for the weights. */
export interface FormatChoice {
  weights: WeightFormat;
  embed?: EmbedStorage;
  /** int2 only: MatMulNBits block size along K. */
  blockSize?: number;
  /** int8/int2: the exact head (default) or the q8 head with exact re-scoring of its top candidates. */
  head?: HeadMode;
}

/** A picked or dropped file with its path inside what the user chose (`folder/config.json`). */
export interface InputFile {
  path: string;
  blob: Blob;
}

export interface OutputFile {
  name: string;
  bytes: number;
}

/** What was loaded, for the summary table; every number is known before any conversion work. */
export interface ModelSummary {
  /** Input names relative to the model folder. */
  inputFiles: string[];
  /** The .safetensors files holding tensors (one, or the shards). */
  checkpointFiles: string[];
  index?: string;
  variant: QuantVariant;
  vocabSize: number;
  maxPositions: number;
  hiddenSize: number;
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  tiedEmbeddings: boolean;
  /** Tensors in the checkpoint, and how many of them the model uses. */
  tensorCount: number;
  usedTensorCount: number;
  /** Bytes of tensor data in the checkpoint files. */
  inputBytes: number;
  /** Planned outputs per weight format (exact head), each file with the exact size the writer will produce. */
  outputs: Record<WeightFormat, OutputFile[]>;
  /** The same for the compact formats with the q8 head. */
  outputsQ8Head: Partial<Record<WeightFormat, OutputFile[]>>;
  /** Files copied unchanged into the output folder (config.json, tokenizer files). */
  copied: string[];
  /** Things the user should know (defaults assumed, tensors ignored). */
  notes: string[];
  /** How the runtime check will go: on the model itself, or on a probe built from its first layers. */
  runtimeCheck: { mode: 'full' } | { mode: 'probe'; reason: string };
}

/** A problem in plain words, with what to do about it. */
export interface Problem {
  /** One line naming the file, tensor and what was expected versus found. */
  message: string;
  hint: string;
  /** 'input': the user's files; 'environment': the browser or storage; 'internal': a bug. */
  kind: 'input' | 'environment' | 'internal';
}

export type InspectOutcome = { ok: true; summary: ModelSummary } | { ok: false; problem: Problem };

export type Destination = { kind: 'opfs' } | { kind: 'folder'; handle: FileSystemDirectoryHandle };

export interface ConvertOptions {
  destination: Destination;
  format: FormatChoice;
  /** Run onnxruntime-web against the reference forward pass before committing. */
  runtimeCheck: boolean;
  external: 'auto' | 'always' | 'never';
}

export interface ConvertSummary {
  files: OutputFile[];
  /** Wall time of writing the model (plan → last byte), as the engine reports it. */
  writeSeconds: number;
  /** Wall time of the whole job including validation, the runtime check and commit. */
  totalSeconds: number;
  bytesWritten: number;
  /** Where the files are: OPFS (download each) or the folder the user picked. */
  destination: 'opfs' | 'folder';
  folderName?: string;
  format: FormatOptions;
  runtime?: RuntimeCheckReport;
  /** What the runtime check ran: the model itself, or a probe of its first layers. */
  runtimeScope?: 'model' | 'probe';
  /** Which kernels ran: wasm-simd, wasm-scalar. */
  kernels: string;
}

export type ConvertOutcome =
  | { ok: true; summary: ConvertSummary }
  | { ok: false; cancelled: true }
  | { ok: false; cancelled: false; problem: Problem };

export interface ConverterApi {
  inspect(files: InputFile[]): Promise<InspectOutcome>;
  /** One job at a time; progress arrives through `onProgress` (a comlink proxy). */
  convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<ConvertOutcome>;
  /** Aborts the running job; it discards its output and resolves `{ cancelled: true }`. */
  cancel(): void;
  /** A file of the latest run kept in OPFS (disk-backed: handing it over copies nothing). */
  outputFile(name: string): Promise<File | undefined>;
  /** Removes staging folders of runs that died without cleaning up (e.g. a terminated worker): in OPFS and `folder`. */
  removeAbandoned(folder?: FileSystemDirectoryHandle): Promise<string[]>;
  /** Deletes every output kept in OPFS. */
  clearOutputs(): Promise<void>;
  /** Every path in OPFS (diagnostics and tests). */
  listStorage(): Promise<string[]>;
}

/** The generation worker's contract (src/worker/generate-worker.ts), for the page. */
export type * from './generate-api.ts';
