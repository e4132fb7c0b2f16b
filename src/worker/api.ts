/**
 * The contract between the page and the conversion worker: types only, so the UI depends on nothing
 * the worker runs. Everything here crosses postMessage (structured clone); Blobs and folder handles
 * travel as references, never as copies of their bytes.
 */
import type { QuantVariant } from '../core/bitnet/dims.ts';
import type { EmbedStorage, FormatOptions, HeadMode, WeightFormat } from '../core/formats/registry.ts';
import type { CheckScope } from '../core/check/check-scope.ts';
import type { RuntimeCheckReport } from '../core/check/runtime-check.ts';
import type { FormatChoice } from '../core/convert/format-choice.ts';
import type { ModelSummary, SizedFile } from '../core/convert/model-summary.ts';
import type { OutputLayout } from '../core/convert/output-layout.ts';
import type { ExternalData, OutputPlan, PlannedFile } from '../core/convert/output-plan.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';

export type {
  CheckScope,
  EmbedStorage,
  ExternalData,
  FormatChoice,
  FormatOptions,
  HeadMode,
  ModelSummary,
  OutputLayout,
  OutputPlan,
  PlannedFile,
  ProgressEvent,
  QuantVariant,
  RuntimeCheckReport,
  WeightFormat,
};

/** A picked or dropped file with its path inside what the user chose (`folder/config.json`). */
export interface InputFile {
  path: string;
  blob: Blob;
}

export type OutputFile = SizedFile;

/** A problem in plain words, with what to do about it. */
export interface Problem {
  /** One line naming the file, tensor and what was expected versus found. */
  message: string;
  hint: string;
  /** 'input': the user's files; 'environment': the browser or storage; 'internal': a bug. */
  kind: 'input' | 'environment' | 'internal';
}

export type InspectOutcome = { ok: true; summary: ModelSummary } | { ok: false; problem: Problem };

/** What to write: the layout, one format (single) or several (folder, the first being the default). */
export interface OutputChoice {
  layout: OutputLayout;
  formats: FormatChoice[];
  external: ExternalData;
}

export type PlanOutcome = { ok: true; plan: OutputPlan } | { ok: false; problem: Problem };

export type Destination = { kind: 'opfs' } | { kind: 'folder'; handle: FileSystemDirectoryHandle };

export interface ConvertOptions extends OutputChoice {
  destination: Destination;
  /** Run onnxruntime-web against the reference forward pass before committing. */
  runtimeCheck: boolean;
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
  layout: OutputLayout;
  /** The formats written, the folder's default first. */
  formats: FormatOptions[];
  /** The name "Download all" gives its `.zip` (and the folder inside it). */
  zipName: string;
  /** The first model's runtime check (each model's check is also a progress event). */
  runtime?: RuntimeCheckReport;
  /** What the runtime check ran: the model itself, or a probe of its first layers. */
  runtimeScope?: 'model' | 'probe';
  /** The model `runtime` is of. */
  runtimeFile?: string;
  /** Which kernels ran: wasm-simd, wasm-scalar. */
  kernels: string;
}

export type ConvertOutcome =
  | { ok: true; summary: ConvertSummary }
  | { ok: false; cancelled: true }
  | { ok: false; cancelled: false; problem: Problem };

/** Where "Download all" writes its zip: a file the person picked, or browser storage (then downloaded). */
export type ZipDestination = { kind: 'opfs' } | { kind: 'file'; handle: FileSystemFileHandle };

export type ZipOutcome =
  | { ok: true; file?: File }
  | { ok: false; cancelled: true }
  | { ok: false; cancelled: false; problem: Problem };

export interface ConverterApi {
  inspect(files: InputFile[]): Promise<InspectOutcome>;
  /** Every file a conversion with these choices writes, with sizes; headers are not read again. */
  plan(files: InputFile[], choice: OutputChoice): Promise<PlanOutcome>;
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
  /**
   * Streams the latest run's files kept in OPFS into one `.zip` (stored, zip64 when large): into the
   * picked file, or into OPFS beside the run, whose File is returned for download.
   */
  saveZip(to: ZipDestination): Promise<ZipOutcome>;
  /**
   * Removes staging folders of runs that died without cleaning up (e.g. a terminated worker): in OPFS and
   * `folder`. `waitMs`: how long to wait for a dead worker's locks to be released (0: skip held ones).
   */
  removeAbandoned(folder?: FileSystemDirectoryHandle, waitMs?: number): Promise<string[]>;
  /** Deletes every output kept in OPFS. */
  clearOutputs(): Promise<void>;
  /** Every path in OPFS (diagnostics and tests). */
  listStorage(): Promise<string[]>;
}

/** The generation worker's contract (src/worker/generate-worker.ts), for the page. */
export type * from './generate-api.ts';
