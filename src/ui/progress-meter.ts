/**
 * Turns the engine's progress events into what the progress panel shows: fractions, throughput and
 * time left. Throughput is measured over written output bytes from the first tensor on, so the time
 * spent reading headers or starting the worker does not drag the rate down. A model folder writes
 * several models, each announced by its own `plan`: fractions are per model (the view names it), and
 * the rate adds up the writing of every model so far, leaving out the checks between them.
 */
import type { ProgressEvent } from '../worker/api.ts';

export type Stage = 'starting' | 'writing' | 'validating' | 'checking' | 'finishing';

export interface ProgressView {
  stage: Stage;
  bytesDone: number;
  bytesTotal: number;
  /** 0..1 over the model being written. */
  fraction: number;
  /** The model being written (its `.onnx`), and how many models came before it in this job. */
  file?: string;
  modelIndex: number;
  tensorName?: string;
  tensorIndex: number;
  tensorCount: number;
  /** 0..1 within the current tensor. */
  tensorFraction: number;
  /** Output megabytes (10^6 bytes) per second, once there is enough to measure. */
  mbPerSecond?: number;
  etaSeconds?: number;
  elapsedSeconds: number;
}

/** Below this much elapsed writing time a running rate is mostly noise. */
const MIN_RATE_WINDOW_S = 0.25;
/** The final rate spans the whole write; only a window this short is left to the engine's timing. */
const MIN_FINAL_WINDOW_S = 0.02;

export class ProgressMeter {
  private writeStarted?: number;
  /** Bytes and seconds of the models already written in this job. */
  private doneBytes = 0;
  private doneSeconds = 0;
  private models = 0;
  private view: ProgressView;

  constructor(
    private readonly now: () => number,
    private readonly startedAt = now(),
  ) {
    this.view = {
      stage: 'starting',
      bytesDone: 0,
      bytesTotal: 0,
      fraction: 0,
      tensorIndex: 0,
      tensorCount: 0,
      tensorFraction: 0,
      modelIndex: 0,
      elapsedSeconds: 0,
    };
  }

  /** Returns the new view when the event changed it. */
  update(e: ProgressEvent): ProgressView | undefined {
    const t = this.now();
    const elapsedSeconds = (t - this.startedAt) / 1000;
    switch (e.status) {
      case 'plan':
        this.writeStarted = undefined;
        return this.set({
          // The next model of a folder is being written as soon as it is planned.
          stage: this.models > 0 ? 'writing' : this.view.stage,
          bytesDone: 0,
          fraction: 0,
          bytesTotal: e.bytesTotal,
          tensorCount: e.tensors,
          file: e.files[0],
          modelIndex: this.models++,
          elapsedSeconds,
        });
      case 'tensor': {
        this.writeStarted ??= t;
        const writing = (t - this.writeStarted) / 1000;
        const total = this.doneSeconds + writing;
        const rate = total >= MIN_RATE_WINDOW_S ? (this.doneBytes + e.bytesDone) / total : undefined;
        const modelRate = writing >= MIN_RATE_WINDOW_S ? e.bytesDone / writing : rate;
        return this.set({
          stage: 'writing',
          bytesDone: e.bytesDone,
          bytesTotal: e.bytesTotal,
          fraction: e.bytesTotal > 0 ? e.bytesDone / e.bytesTotal : 0,
          tensorName: e.name,
          tensorIndex: e.index,
          tensorCount: e.count,
          tensorFraction: e.tensorTotal > 0 ? e.tensorDone / e.tensorTotal : 1,
          mbPerSecond: rate === undefined ? undefined : rate / 1e6,
          etaSeconds: modelRate ? (e.bytesTotal - e.bytesDone) / modelRate : undefined,
          elapsedSeconds,
        });
      }
      case 'written': {
        const bytes = Math.max(
          this.view.bytesDone,
          e.files.reduce((n, f) => n + f.bytes, 0),
        );
        // Over the whole write even a short window is a fair average; the engine's own timing (which
        // also counts reading headers and planning) is the fallback when no tensor event was seen.
        const writing = this.writeStarted === undefined ? 0 : (t - this.writeStarted) / 1000;
        const seconds = writing >= MIN_FINAL_WINDOW_S ? writing : e.seconds;
        this.doneBytes += bytes;
        this.doneSeconds += seconds;
        this.writeStarted = undefined;
        return this.set({
          stage: 'validating',
          fraction: 1,
          tensorFraction: 1,
          tensorIndex: this.view.tensorCount,
          etaSeconds: 0,
          mbPerSecond: this.doneSeconds > 0 ? this.doneBytes / this.doneSeconds / 1e6 : this.view.mbPerSecond,
          bytesDone: bytes,
          bytesTotal: Math.max(this.view.bytesTotal, bytes),
          elapsedSeconds,
        });
      }
      case 'check':
        return this.set({ stage: e.name === 'structure' ? 'checking' : 'finishing', elapsedSeconds });
      case 'log':
        return undefined;
    }
  }

  current(): ProgressView {
    return this.view;
  }

  private set(patch: Partial<ProgressView>): ProgressView {
    this.view = { ...this.view, ...patch };
    return this.view;
  }
}
