/**
 * The page's handle on the conversion worker (Squoosh-style): the worker starts on first use, calls go
 * through comlink, and a cancel that the worker cannot honour quickly — it may be deep inside a WASM
 * call, which no signal interrupts — terminates it. A fresh worker then removes what the dead one left.
 * A worker that fails to start (its script does not load, the browser refuses module workers) or dies
 * ends every pending call with a problem the page can show, instead of leaving it waiting forever.
 */
import { proxy, wrap, type Remote } from 'comlink';
import type {
  ConvertOptions,
  ConvertOutcome,
  ConverterApi,
  InputFile,
  InspectOutcome,
  OutputChoice,
  PlanOutcome,
  Problem,
  ProgressEvent,
  ZipDestination,
  ZipOutcome,
} from '../worker/api.ts';

/** What the UI state needs from a converter; the bridge implements it, tests can fake it. */
export interface ConverterClient {
  inspect(files: InputFile[]): Promise<InspectOutcome>;
  plan(files: InputFile[], choice: OutputChoice): Promise<PlanOutcome>;
  convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (e: ProgressEvent) => void,
  ): Promise<ConvertOutcome>;
  /** Resolves once the running job has stopped and its partial output is gone. */
  cancel(): Promise<void>;
  outputFile(name: string): Promise<File | undefined>;
  saveZip(to: ZipDestination): Promise<ZipOutcome>;
  clearOutputs(): Promise<void>;
}

export interface WorkerLike {
  terminate(): void;
  /** 'error' fires when the worker's script fails to load or throws outside any call. */
  addEventListener(type: 'error', listener: (event: Event) => void): void;
}

/** What the page shows when the worker cannot run at all. */
export function workerFailedProblem(detail?: string): Problem {
  return {
    kind: 'environment',
    message: `the conversion worker failed to start or stopped${detail ? ` (${detail})` : ''}`,
    hint: 'Reload the page and try again. If it keeps happening, this browser may block module workers: use a current Chrome, Edge or Firefox.',
  };
}

/** Rejects calls on a worker that failed; carries the problem to show. */
export class WorkerFailedError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
    this.name = 'WorkerFailedError';
  }
}

/** How long a fresh worker waits for a terminated one's staging locks to be released before giving up. */
export const ABANDONED_LOCK_WAIT_MS = 10_000;

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
  /** Rejects when the current worker fails; every call races it. */
  private failed?: Promise<never>;

  /**
   * `gracePeriod` resolves when a cancelled job has had long enough to stop by itself (tests pass one
   * they resolve themselves, so nothing depends on the clock).
   */
  constructor(
    private readonly start: () => { worker: WorkerLike; api: Remote<ConverterApi> } = startConverterWorker,
    private readonly gracePeriod: () => Promise<void> = () => delay(CANCEL_GRACE_MS),
  ) {}

  private get remote(): Remote<ConverterApi> {
    if (!this.api) {
      const { worker, api } = this.start();
      this.worker = worker;
      this.api = api;
      this.failed = new Promise<never>((_, reject) => {
        worker.addEventListener('error', (event) => {
          const detail = (event as ErrorEvent).message || undefined;
          if (this.worker === worker) this.terminate();
          reject(new WorkerFailedError(workerFailedProblem(detail)));
        });
      });
      this.failed.catch(() => {});
    }
    return this.api;
  }

  /** Runs a call on the worker; rejects with WorkerFailedError if the worker fails meanwhile. */
  private call<T>(run: (api: Remote<ConverterApi>) => Promise<T>): Promise<T> {
    const api = this.remote;
    return Promise.race([run(api), this.failed!]);
  }

  inspect(files: InputFile[]): Promise<InspectOutcome> {
    return this.call<InspectOutcome>((api) => api.inspect(files)).catch((e: unknown) => {
      if (e instanceof WorkerFailedError) return { ok: false as const, problem: e.problem };
      throw e;
    });
  }

  plan(files: InputFile[], choice: OutputChoice): Promise<PlanOutcome> {
    return this.call<PlanOutcome>((api) => api.plan(files, choice)).catch((e: unknown) => {
      if (e instanceof WorkerFailedError) return { ok: false as const, problem: e.problem };
      throw e;
    });
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
    this.call<ConvertOutcome>((api) => api.convert(files, options, proxy(onProgress))).then(
      settle,
      async (e: unknown) => {
        if (e instanceof WorkerFailedError) {
          // The dead worker cannot clean up: a fresh one removes its staging folders.
          await this.removeAbandoned(job.folder, ABANDONED_LOCK_WAIT_MS).catch(() => {});
          settle({ ok: false, cancelled: false, problem: e.problem });
          return;
        }
        settle({
          ok: false,
          cancelled: false,
          problem: {
            kind: 'internal',
            message: `the conversion worker failed: ${(e as Error)?.message ?? String(e)}`,
            hint: 'Reload the page and try again; if it happens again, please report it.',
          },
        });
      },
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
    const stopped = await Promise.race([job.done.then(() => true), this.gracePeriod().then(() => false)]);
    if (stopped) return;
    this.terminate();
    // The page says "nothing was kept" when the job settles: clean up first. A fresh worker removes the
    // dead one's staging once the browser has released its locks.
    await this.removeAbandoned(job.folder, ABANDONED_LOCK_WAIT_MS).catch(() => {});
    job.settle({ ok: false, cancelled: true });
  }

  outputFile(name: string): Promise<File | undefined> {
    return this.call((api) => api.outputFile(name));
  }

  saveZip(to: ZipDestination): Promise<ZipOutcome> {
    return this.call<ZipOutcome>((api) => api.saveZip(to)).catch((e: unknown) => {
      if (e instanceof WorkerFailedError)
        return { ok: false as const, cancelled: false as const, problem: e.problem };
      throw e;
    });
  }

  clearOutputs(): Promise<void> {
    return this.call((api) => api.clearOutputs());
  }

  /** Paths in OPFS, for diagnostics and tests. */
  listStorage(): Promise<string[]> {
    return this.call((api) => api.listStorage());
  }

  private removeAbandoned(folder: FileSystemDirectoryHandle | undefined, waitMs: number): Promise<string[]> {
    return this.call((api) => api.removeAbandoned(folder, waitMs));
  }

  terminate(): void {
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
    this.failed = undefined;
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
