/**
 * The page's handle on the conversion worker (Squoosh-style): the worker starts on first use, calls go
 * through comlink, and a cancel that the worker cannot honour quickly — it may be deep inside a WASM
 * call, which no signal interrupts — terminates it. A fresh worker then removes what the dead one left.
 */
import { proxy, wrap, type Remote } from 'comlink';
import type {
  ConvertOptions,
  ConvertOutcome,
  ConverterApi,
  InputFile,
  InspectOutcome,
  ProgressEvent,
} from '../worker/api.ts';

/** What the UI state needs from a converter; the bridge implements it, tests can fake it. */
export interface ConverterClient {
  inspect(files: InputFile[]): Promise<InspectOutcome>;
  convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (e: ProgressEvent) => void,
  ): Promise<ConvertOutcome>;
  /** Resolves once the running job has stopped and its partial output is gone. */
  cancel(): Promise<void>;
  outputFile(name: string): Promise<File | undefined>;
  clearOutputs(): Promise<void>;
}

export interface WorkerLike {
  terminate(): void;
}

/** How long a cancelled job may take to unwind by itself before its worker is terminated. */
export const CANCEL_GRACE_MS = 700;

interface RunningJob {
  done: Promise<void>;
  settle: (outcome: ConvertOutcome) => void;
  folder?: FileSystemDirectoryHandle;
}

export class WorkerBridge implements ConverterClient {
  private worker?: WorkerLike;
  private api?: Remote<ConverterApi>;
  private job?: RunningJob;

  constructor(
    private readonly start: () => { worker: WorkerLike; api: Remote<ConverterApi> } = startConverterWorker,
    private readonly graceMs = CANCEL_GRACE_MS,
  ) {}

  private get remote(): Remote<ConverterApi> {
    if (!this.api) ({ worker: this.worker, api: this.api } = this.start());
    return this.api;
  }

  inspect(files: InputFile[]): Promise<InspectOutcome> {
    return this.remote.inspect(files);
  }

  convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (e: ProgressEvent) => void,
  ): Promise<ConvertOutcome> {
    if (this.job) return Promise.reject(new Error('a conversion is already running'));
    let settle!: (outcome: ConvertOutcome) => void;
    const outcome = new Promise<ConvertOutcome>((resolve) => (settle = resolve));
    const job: RunningJob = {
      done: outcome.then(() => {}),
      settle,
      folder: options.destination.kind === 'folder' ? options.destination.handle : undefined,
    };
    this.job = job;
    this.remote.convert(files, options, proxy(onProgress)).then(settle, (e: unknown) =>
      settle({
        ok: false,
        cancelled: false,
        problem: {
          kind: 'internal',
          message: `the conversion worker failed: ${(e as Error)?.message ?? String(e)}`,
          hint: 'Reload the page and try again; if it happens again, please report it.',
        },
      }),
    );
    void job.done.then(() => {
      if (this.job === job) this.job = undefined;
    });
    return outcome;
  }

  async cancel(): Promise<void> {
    const job = this.job;
    if (!job) return;
    void this.api?.cancel();
    const stopped = await Promise.race([job.done.then(() => true), delay(this.graceMs).then(() => false)]);
    if (stopped) return;
    this.terminate();
    job.settle({ ok: false, cancelled: true });
    await this.remote.removeAbandoned(job.folder);
  }

  outputFile(name: string): Promise<File | undefined> {
    return this.remote.outputFile(name);
  }

  clearOutputs(): Promise<void> {
    return this.remote.clearOutputs();
  }

  /** Paths in OPFS, for diagnostics and tests. */
  listStorage(): Promise<string[]> {
    return this.remote.listStorage();
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
  }
}

function startConverterWorker(): { worker: Worker; api: Remote<ConverterApi> } {
  const worker = new Worker(new URL('../worker/worker.ts', import.meta.url), {
    type: 'module',
    name: 'bitnet2onnx-converter',
  });
  return { worker, api: wrap<ConverterApi>(worker) };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
