/**
 * The page's handle on the generation worker: started on first use, separate from the conversion
 * worker so converting and generating never wait on each other. A stop the worker cannot honour soon
 * (it may be inside one long model call) terminates it; the model must then be loaded again.
 */
import { proxy, wrap, type Remote } from 'comlink';
import type {
  Backend,
  GenerationOutcome,
  GenerationRequest,
  GenerationUpdate,
  GeneratorApi,
  InputFile,
  LoadOptions,
  LoadOutcome,
  WebGpuSupport,
} from '../worker/api.ts';
import { webGpuSupport } from './webgpu-support.ts';
import type { WorkerLike } from './worker-bridge.ts';

/** What the generation state needs; the bridge implements it, tests can fake it. */
export interface GeneratorClient {
  webGpu(): Promise<WebGpuSupport>;
  load(files: InputFile[], backend: Backend, model?: string, options?: LoadOptions): Promise<LoadOutcome>;
  generate(request: GenerationRequest, onUpdate: (u: GenerationUpdate) => void): Promise<GenerationOutcome>;
  /** Resolves once the running generation has ended; `terminated` when its worker had to be ended. */
  stop(): Promise<{ terminated: boolean }>;
}

/** How long a stopped generation may take to end its current step before the worker is terminated. */
export const STOP_GRACE_MS = 3000;

export class GenerateBridge implements GeneratorClient {
  private worker?: WorkerLike;
  private api?: Remote<GeneratorApi>;
  private running?: { done: Promise<void>; settle: (o: GenerationOutcome) => void };

  constructor(
    private readonly start: () => { worker: WorkerLike; api: Remote<GeneratorApi> } = startGeneratorWorker,
    private readonly graceMs = STOP_GRACE_MS,
  ) {}

  private get remote(): Remote<GeneratorApi> {
    if (!this.api) ({ worker: this.worker, api: this.api } = this.start());
    return this.api;
  }

  webGpu(): Promise<WebGpuSupport> {
    return webGpuSupport();
  }

  load(files: InputFile[], backend: Backend, model?: string, options?: LoadOptions): Promise<LoadOutcome> {
    return this.remote.load(files, backend, model, options);
  }

  generate(request: GenerationRequest, onUpdate: (u: GenerationUpdate) => void): Promise<GenerationOutcome> {
    let settle!: (o: GenerationOutcome) => void;
    const outcome = new Promise<GenerationOutcome>((resolve) => (settle = resolve));
    const running = { done: outcome.then(() => {}), settle };
    this.running = running;
    this.remote.generate(request, proxy(onUpdate)).then(settle, (e: unknown) =>
      settle({
        ok: false,
        problem: {
          kind: 'internal',
          message: `the generation worker failed: ${(e as Error)?.message ?? String(e)}`,
          hint: 'Load the model again; if it happens again, please report it.',
        },
      }),
    );
    void running.done.then(() => {
      if (this.running === running) this.running = undefined;
    });
    return outcome;
  }

  async stop(): Promise<{ terminated: boolean }> {
    const running = this.running;
    if (!running) return { terminated: false };
    void this.api?.stop();
    const ended = await Promise.race([
      running.done.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.graceMs)),
    ]);
    if (ended) return { terminated: false };
    this.worker?.terminate();
    this.worker = undefined;
    this.api = undefined;
    running.settle({
      ok: false,
      problem: {
        kind: 'environment',
        message: 'the model did not finish its current step in time, so it was unloaded',
        hint: 'Load the model again to continue.',
      },
    });
    return { terminated: true };
  }
}

function startGeneratorWorker(): { worker: Worker; api: Remote<GeneratorApi> } {
  const worker = new Worker(new URL('../worker/generate-worker.ts', import.meta.url), {
    type: 'module',
    name: 'bitnet2onnx-generator',
  });
  return { worker, api: wrap<GeneratorApi>(worker) };
}
