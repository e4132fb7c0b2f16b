/**
 * The generation panel's state, as one class of runes (like AppState): which converted model is
 * offered, the backend, the prompt and decoding settings, and the run in progress. Only this class
 * talks to the generation worker.
 */
import type {
  Backend,
  GenerationOutcome,
  GenerationUpdate,
  GeneratorModel,
  InputFile,
  LoadOptions,
  LoadOutcome,
  MemoryEstimate,
  Problem,
  Sampling,
  StopReason,
  WebGpuSupport,
} from '../worker/api.ts';
import type { GeneratorClient } from './generate-bridge.ts';

/** Where the model to run came from. */
export interface ModelSource {
  /** Shown to the person: “the model converted above”, a folder name. */
  label: string;
  files: InputFile[];
  /** A prompt that suits this model (the sample's), put in the box if the person typed none. */
  suggestedPrompt?: string;
}

export type LoadPhase = 'none' | 'loading' | 'ready' | 'failed';
/** `data-state` of the output element (stable, for automation), plus idle before any run. */
export type RunState = 'idle' | 'running' | 'done' | 'stopped' | 'failed';

export const DEFAULT_MAX_NEW_TOKENS = 64;

export class GenerateState {
  source = $state.raw<ModelSource | undefined>();
  webGpu = $state.raw<WebGpuSupport | undefined>();
  backend = $state<Backend>('wasm');
  loadPhase = $state<LoadPhase>('none');
  model = $state.raw<GeneratorModel | undefined>();
  /** The .onnx file to load when the source has several. */
  modelFile = $state<string | undefined>();
  /** Every .onnx file the source offers (known once a load succeeded or was refused). */
  modelFiles = $state.raw<string[]>([]);
  loadProblem = $state.raw<Problem | undefined>();
  /** Set when the model was refused before loading: its memory estimate exceeds what the backend has. */
  refusal = $state.raw<MemoryEstimate | undefined>();

  prompt = $state('');
  maxNewTokens = $state(DEFAULT_MAX_NEW_TOKENS);
  mode = $state<Sampling['kind']>('greedy');
  temperature = $state(0.8);
  topK = $state(40);
  seed = $state(1);

  runState = $state<RunState>('idle');
  ids = $state.raw<number[]>([]);
  text = $state<string | undefined>();
  /** The prompt as the run saw it: its text (or ids) shown before the generated part. */
  shownPrompt = $state('');
  tokensPerSecond = $state<number | undefined>();
  elapsedMs = $state(0);
  firstTokenMs = $state<number | undefined>();
  reason = $state<StopReason | undefined>();
  runProblem = $state.raw<Problem | undefined>();
  stopping = $state(false);

  canGenerate = $derived(
    this.source !== undefined &&
      this.loadPhase !== 'loading' &&
      this.runState !== 'running' &&
      this.refusal === undefined,
  );
  /** Prompts are token ids when the loaded model came without a tokenizer. */
  idsMode = $derived(this.model !== undefined && !this.model.tokenizer);

  private detecting?: Promise<void>;
  private backendPicked = false;

  /**
   * @param loadOptions passed to every load; `wasmHeapBytes` comes from the page's
   *   `?wasm-heap-limit=` (a test hook: a small limit provokes the memory refusal with a small model).
   */
  constructor(
    private readonly client: GeneratorClient,
    private readonly loadOptions: LoadOptions = {},
  ) {}

  /** Finds out once whether WebGPU is there; it becomes the default backend when it is. */
  detectBackends(): Promise<void> {
    this.detecting ??= this.client.webGpu().then(
      (support) => {
        this.webGpu = support;
        if (!this.backendPicked && support.available) this.backend = 'webgpu';
      },
      (e: unknown) => {
        this.webGpu = { available: false, reason: (e as Error)?.message ?? String(e) };
      },
    );
    return this.detecting;
  }

  /** Offers a model (just converted, or opened); it is loaded on the chosen backend right away. */
  async use(source: ModelSource): Promise<void> {
    if (this.runState === 'running') return;
    this.source = source;
    this.model = undefined;
    this.modelFile = undefined;
    this.modelFiles = [];
    this.resetRun();
    if (source.suggestedPrompt && this.prompt.trim() === '') this.prompt = source.suggestedPrompt;
    await this.detectBackends();
    await this.load();
  }

  async setBackend(backend: Backend): Promise<void> {
    if (this.runState === 'running' || backend === this.backend) return;
    this.backend = backend;
    this.backendPicked = true;
    if (this.source) await this.load();
  }

  async setModelFile(file: string): Promise<void> {
    if (this.runState === 'running' || file === this.modelFile) return;
    this.modelFile = file;
    await this.load();
  }

  async load(): Promise<void> {
    const source = this.source;
    if (!source) return;
    this.loadPhase = 'loading';
    this.loadProblem = undefined;
    this.refusal = undefined;
    this.model = undefined;
    const backend = this.backend;
    const outcome = await this.client
      .load(source.files, backend, this.modelFile, this.loadOptions)
      .catch((e: unknown): LoadOutcome => ({ ok: false, problem: internalProblem(e) }));
    if (this.source !== source || this.backend !== backend) return;
    if (outcome.ok) {
      this.model = outcome.model;
      this.modelFile = outcome.model.model;
      this.modelFiles = outcome.model.models;
      this.loadPhase = 'ready';
    } else {
      this.loadProblem = outcome.problem;
      this.refusal = outcome.memory;
      if (outcome.models) this.modelFiles = outcome.models;
      if (outcome.model) this.modelFile = outcome.model;
      this.loadPhase = 'failed';
    }
  }

  async generate(): Promise<void> {
    if (!this.canGenerate) return;
    if (this.loadPhase !== 'ready') await this.load();
    if (this.loadPhase !== 'ready') return;
    this.resetRun();
    this.runState = 'running';
    this.shownPrompt = this.prompt;
    const sampling: Sampling =
      this.mode === 'greedy'
        ? { kind: 'greedy' }
        : { kind: 'sample', temperature: this.temperature, topK: this.topK, seed: this.seed };
    const outcome = await this.client
      .generate({ prompt: this.prompt, maxNewTokens: this.maxNewTokens, sampling }, (u) => this.onUpdate(u))
      .catch((e: unknown): GenerationOutcome => ({ ok: false, problem: internalProblem(e) }));
    if (this.runState !== 'running') return;
    this.finish(outcome);
  }

  async stop(): Promise<void> {
    if (this.runState !== 'running' || this.stopping) return;
    this.stopping = true;
    const { terminated } = await this.client.stop();
    this.stopping = false;
    if (terminated) {
      // The worker is gone with the model in it: what came so far stays on screen.
      this.runState = 'stopped';
      this.reason = 'stopped';
      this.model = undefined;
      this.loadPhase = 'none';
      void this.load();
    }
  }

  private onUpdate(u: GenerationUpdate): void {
    if (this.runState !== 'running') return;
    this.ids = u.ids;
    this.text = u.text;
    this.elapsedMs = u.elapsedMs;
    this.tokensPerSecond = u.tokensPerSecond;
    if (u.ids.length === 1) this.firstTokenMs = u.elapsedMs;
  }

  private finish(outcome: GenerationOutcome): void {
    if (!outcome.ok) {
      this.runProblem = outcome.problem;
      this.runState = 'failed';
      return;
    }
    this.ids = outcome.ids;
    this.text = outcome.text;
    this.reason = outcome.reason;
    this.tokensPerSecond = outcome.tokensPerSecond;
    this.firstTokenMs = outcome.prefillMs;
    this.elapsedMs = outcome.prefillMs + outcome.decodeMs;
    this.runState = outcome.reason === 'stopped' ? 'stopped' : 'done';
  }

  private resetRun(): void {
    this.runState = 'idle';
    this.ids = [];
    this.text = undefined;
    this.tokensPerSecond = undefined;
    this.firstTokenMs = undefined;
    this.elapsedMs = 0;
    this.reason = undefined;
    this.runProblem = undefined;
  }
}

function internalProblem(e: unknown): Problem {
  return {
    kind: 'internal',
    message: (e as Error)?.message ?? String(e),
    hint: 'Reload the page and try again; if it happens again, please report it.',
  };
}
