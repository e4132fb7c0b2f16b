/**
 * Everything the page shows, as one class of runes (svelte.dev REPL style). Components read it and
 * call its methods; only this class talks to the converter. Large payloads (summary, log, results)
 * are `$state.raw`: they are replaced whole, never mutated, so Svelte need not proxy them.
 */
import type {
  ConvertSummary,
  Destination,
  FormatChoice,
  InputFile,
  ModelSummary,
  OutputChoice,
  OutputLayout,
  OutputPlan,
  Problem,
  ProgressEvent,
  RuntimeCheckReport,
  WeightFormat,
  ZipDestination,
} from '../worker/api.ts';
import { ProgressMeter, type ProgressView } from './progress-meter.ts';
import type { ConverterClient } from './worker-bridge.ts';

export type Phase =
  'idle' | 'inspecting' | 'ready' | 'invalid' | 'converting' | 'cancelling' | 'done' | 'failed' | 'cancelled';

export interface LogLine {
  id: number;
  level: 'info' | 'verbose' | 'warn' | 'error';
  message: string;
  /** Seconds since the job started. */
  at: number;
}

export interface CheckLine {
  name: string;
  /** The model it ran on, when the output holds several. */
  file?: string;
  ok: boolean;
  message: string;
}

export interface LoadedModel {
  label: string;
  files: InputFile[];
  /** A prompt that suits the model (the bundled sample's), offered when it is run after converting. */
  prompt?: string;
}

/** The weight formats in the order the page lists them (and a folder's extra formats are added). */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['fp32', 'int8', 'int2'];

/** "Download all": idle, making the zip, saved (or handed to the browser's downloads), or failed. */
export type ZipState =
  | { state: 'idle' }
  | { state: 'zipping' }
  | { state: 'done'; where: 'file' | 'download' }
  | { state: 'failed'; problem: Problem };

/** Enough lines for a 2B model's verbose log (one per tensor) with room to spare. */
export const MAX_LOG_LINES = 3000;

const BUSY: readonly Phase[] = ['inspecting', 'converting', 'cancelling'];

/**
 * The format preselected for a model too large to check whole in a tab (its check runs on a probe):
 * 2-bit weights with the q8 head, the one compact choice whose 2B-4T model (≈ 1.6 GB: 2-bit weights, an
 * 8-bit head and the float16 table it re-scores from) fits onnxruntime-web's 4 GiB heap with room to
 * run. Both parts are exact where it matters (pinned 2-bit products; greedy and top-k choices of the
 * head). Models checked whole keep fp32: exact, and runs in every ONNX runtime.
 */
export const PROBE_CHECKED_FORMAT: FormatChoice = { weights: 'int2', head: 'q8' };

/** The format preselected when a model is loaded, until the person picks one. */
export function defaultFormatFor(summary: ModelSummary): FormatChoice {
  return summary.runtimeCheck.mode === 'probe' ? PROBE_CHECKED_FORMAT : { weights: 'fp32' };
}

export class AppState {
  phase = $state<Phase>('idle');
  model = $state.raw<LoadedModel | undefined>();
  summary = $state.raw<ModelSummary | undefined>();
  problem = $state.raw<Problem | undefined>();
  progress = $state.raw<ProgressView | undefined>();
  log = $state.raw<LogLine[]>([]);
  checks = $state.raw<CheckLine[]>([]);
  result = $state.raw<ConvertSummary | undefined>();
  runtime = $state.raw<RuntimeCheckReport | undefined>();

  /** Where outputs go: browser storage (OPFS) or a folder the user picked. */
  destination = $state.raw<Destination>({ kind: 'opfs' });
  /** What is written: the loadable model folder (default) or the single `.onnx` file. */
  layout = $state<OutputLayout>('folder');
  /** The main format: the single file's, or the folder's default. */
  format = $state.raw<FormatChoice>({ weights: 'fp32' });
  /** Further formats the folder holds beside the main one. */
  extraFormats = $state.raw<WeightFormat[]>([]);
  /** Every file the chosen output writes, with sizes (from the engine; undefined while it is asked). */
  plan = $state.raw<OutputPlan | undefined>();
  planProblem = $state.raw<Problem | undefined>();
  zip = $state.raw<ZipState>({ state: 'idle' });
  runtimeCheck = $state(true);
  showVerbose = $state(false);
  /** Whether a service worker keeps the app available offline. */
  offline = $state<'pending' | 'ready' | 'unavailable'>('pending');

  busy = $derived(BUSY.includes(this.phase) || this.zip.state === 'zipping');
  /** The formats of the output, the main one first; extras only in a folder, in the page's order. */
  formats = $derived<FormatChoice[]>(
    this.layout === 'single'
      ? [this.format]
      : [
          this.format,
          ...WEIGHT_FORMATS.filter((w) => w !== this.format.weights && this.extraFormats.includes(w)).map(
            (weights) => ({ weights, head: this.format.head }),
          ),
        ],
  );
  canConvert = $derived(this.summary !== undefined && !BUSY.includes(this.phase));
  status = $derived(this.describeStatus());

  private logId = 0;
  private jobStarted = 0;
  /** Set once the person picks a format; from then on loading a model keeps their choice. */
  private formatPicked = false;
  private planAsked = 0;

  constructor(
    private readonly converter: ConverterClient,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Reads headers and config of what the user picked; shows the summary or the problem. */
  async load(model: LoadedModel): Promise<void> {
    if (this.busy) return;
    this.model = model;
    this.summary = undefined;
    this.plan = undefined;
    this.planProblem = undefined;
    this.zip = { state: 'idle' };
    this.problem = undefined;
    this.result = undefined;
    this.runtime = undefined;
    this.progress = undefined;
    this.checks = [];
    this.log = [];
    this.phase = 'inspecting';
    const outcome = await this.converter.inspect(model.files).catch((e: unknown) => ({
      ok: false as const,
      problem: internalProblem(e),
    }));
    if (this.model !== model) return;
    if (outcome.ok) {
      this.summary = outcome.summary;
      if (!this.formatPicked) this.format = defaultFormatFor(outcome.summary);
      this.phase = 'ready';
      await this.refreshPlan();
    } else {
      this.problem = outcome.problem;
      this.phase = 'invalid';
    }
  }

  /** A problem found before the converter was even asked (e.g. nothing usable was dropped). */
  reject(problem: Problem): void {
    if (this.busy) return;
    this.model = undefined;
    this.summary = undefined;
    this.plan = undefined;
    this.result = undefined;
    this.problem = problem;
    this.phase = 'invalid';
  }

  async convert(): Promise<void> {
    if (!this.canConvert || !this.model) return;
    this.phase = 'converting';
    this.problem = undefined;
    this.result = undefined;
    this.zip = { state: 'idle' };
    this.runtime = undefined;
    this.checks = [];
    this.log = [];
    this.jobStarted = this.now();
    const meter = new ProgressMeter(this.now, this.jobStarted);
    this.progress = meter.current();
    const outcome = await this.converter
      .convert(
        this.model.files,
        { ...this.outputChoice(), destination: this.destination, runtimeCheck: this.runtimeCheck },
        (e) => this.onProgress(meter, e),
      )
      .catch((e: unknown) => ({
        ok: false as const,
        cancelled: false as const,
        problem: internalProblem(e),
      }));
    if (outcome.ok) {
      this.result = outcome.summary;
      this.runtime = outcome.summary.runtime;
      this.progress = meter.current();
      this.phase = 'done';
      this.addLog('info', `done in ${outcome.summary.totalSeconds.toFixed(1)} s`);
    } else if (outcome.cancelled) {
      this.phase = 'cancelled';
      this.addLog('warn', 'cancelled: the partial output was removed');
    } else {
      this.problem = outcome.problem;
      this.phase = 'failed';
      this.addLog('error', outcome.problem.message);
    }
  }

  async cancel(): Promise<void> {
    if (this.phase !== 'converting') return;
    this.phase = 'cancelling';
    await this.converter.cancel();
  }

  setDestination(destination: Destination): void {
    if (!this.busy) this.destination = destination;
  }

  setFormat(format: FormatChoice): void {
    if (this.busy) return;
    this.format = format;
    this.formatPicked = true;
    void this.refreshPlan();
  }

  setLayout(layout: OutputLayout): void {
    if (this.busy) return;
    this.layout = layout;
    void this.refreshPlan();
  }

  /** Adds or removes a further format of the folder. */
  setExtraFormat(weights: WeightFormat, included: boolean): void {
    if (this.busy) return;
    const others = this.extraFormats.filter((w) => w !== weights);
    this.extraFormats = included ? [...others, weights] : others;
    void this.refreshPlan();
  }

  /** Asks the engine which files the current choice writes; the latest answer wins. */
  async refreshPlan(): Promise<void> {
    const model = this.model;
    if (!model || !this.summary) return;
    const asked = ++this.planAsked;
    const outcome = await this.converter.plan(model.files, this.outputChoice()).catch((e: unknown) => ({
      ok: false as const,
      problem: internalProblem(e),
    }));
    if (asked !== this.planAsked || this.model !== model) return;
    this.plan = outcome.ok ? outcome.plan : undefined;
    this.planProblem = outcome.ok ? undefined : outcome.problem;
  }

  /**
   * "Download all": zips the outputs kept in browser storage into `to`. Returns the zip's File when it
   * was made in browser storage (the page then hands it to the browser's downloads).
   */
  async downloadAll(to: ZipDestination): Promise<File | undefined> {
    if (this.busy || !this.result) return undefined;
    this.zip = { state: 'zipping' };
    const outcome = await this.converter.saveZip(to).catch((e: unknown) => ({
      ok: false as const,
      cancelled: false as const,
      problem: internalProblem(e),
    }));
    if (outcome.ok) {
      this.zip = { state: 'done', where: to.kind === 'file' ? 'file' : 'download' };
      this.addLog('info', to.kind === 'file' ? `saved ${to.handle.name}` : 'made the zip; downloading it');
      return outcome.file;
    }
    if (outcome.cancelled) {
      this.zip = { state: 'idle' };
      return undefined;
    }
    this.zip = { state: 'failed', problem: outcome.problem };
    this.addLog('error', outcome.problem.message);
    return undefined;
  }

  private outputChoice(): OutputChoice {
    return { layout: this.layout, formats: this.formats, external: 'auto' };
  }

  /** Deletes the outputs kept in browser storage (they are private, but they take disk space). */
  async clearStoredOutputs(): Promise<void> {
    if (this.busy) return;
    await this.converter.clearOutputs();
    this.result = undefined;
    this.zip = { state: 'idle' };
    this.progress = undefined;
    this.checks = [];
    this.runtime = undefined;
    this.phase = this.summary ? 'ready' : 'idle';
    this.addLog('info', 'deleted the converted files from browser storage');
  }

  /** The file of the latest run kept in browser storage, for download. */
  outputFile(name: string): Promise<File | undefined> {
    return this.converter.outputFile(name);
  }

  private onProgress(meter: ProgressMeter, e: ProgressEvent): void {
    const view = meter.update(e);
    if (view) this.progress = view;
    switch (e.status) {
      case 'log':
        this.addLog(e.level, e.message);
        break;
      case 'plan':
        this.addLog(
          'info',
          `${e.tensors} initializers, ${(e.bytesTotal / 1e6).toFixed(1)} MB → ${e.files.join(', ')}`,
        );
        break;
      case 'written':
        this.addLog(
          'info',
          `wrote ${e.files.map((f) => `${f.name} (${(f.bytes / 1e6).toFixed(1)} MB)`).join(', ')} in ${e.seconds.toFixed(2)} s`,
        );
        break;
      case 'check':
        this.checks = [
          ...this.checks.filter((c) => c.name !== e.name || c.file !== e.file),
          { name: e.name, file: e.file, ok: e.ok, message: e.message },
        ];
        this.addLog(
          e.ok ? 'info' : 'error',
          `check ${e.name}${e.file ? ` of ${e.file}` : ''}: ${e.ok ? 'ok' : 'FAILED'} — ${e.message}`,
        );
        break;
      case 'tensor':
        break;
    }
  }

  private addLog(level: LogLine['level'], message: string): void {
    const line: LogLine = { id: ++this.logId, level, message, at: (this.now() - this.jobStarted) / 1000 };
    const kept = this.log.length >= MAX_LOG_LINES ? this.log.slice(-MAX_LOG_LINES + 1) : this.log;
    this.log = [...kept, line];
  }

  private describeStatus(): string {
    switch (this.phase) {
      case 'idle':
        return 'Choose a BitNet b1.58 checkpoint, or try the sample model.';
      case 'inspecting':
        return 'Reading the checkpoint headers…';
      case 'ready':
        return 'Ready to convert.';
      case 'invalid':
        return 'This input cannot be converted.';
      case 'converting':
        return this.describeWork();
      case 'cancelling':
        return 'Cancelling and removing the partial output…';
      case 'done': {
        const checked = this.result?.runtime
          ? 'Converted, validated and run in onnxruntime-web.'
          : 'Converted and validated.';
        return this.result?.destination === 'folder'
          ? `${checked} Files saved to “${this.result.folderName}”.`
          : `${checked} Download the files below.`;
      }
      case 'failed':
        return 'Conversion failed. Nothing was kept.';
      case 'cancelled':
        return 'Cancelled. Nothing was kept.';
    }
  }

  private describeWork(): string {
    const p = this.progress;
    if (!p || p.stage === 'starting') return 'Starting the converter…';
    if (p.stage === 'writing') {
      // A folder of several models names the one being written.
      const which = this.formats.length > 1 && p.file ? ` ${p.file}` : '';
      return `Converting${which}… ${Math.floor(p.fraction * 100)}%`;
    }
    if (p.stage === 'validating') return 'Validating the written model…';
    if (p.stage === 'checking' && this.runtimeCheck) return 'Running the model in onnxruntime-web…';
    return 'Finishing…';
  }
}

function internalProblem(e: unknown): Problem {
  return {
    kind: 'internal',
    message: (e as Error)?.message ?? String(e),
    hint: 'Reload the page and try again; if it happens again, please report it.',
  };
}
