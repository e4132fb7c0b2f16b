import type { ProgressEvent } from '../core/convert/progress.ts';

const MB = 1e6;

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

/** One redrawn line on a TTY: bar, percent, bytes, MB/s, ETA, current tensor. */
export class ProgressBar {
  private started = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(e: Extract<ProgressEvent, { status: 'tensor' }>): void {
    const now = performance.now();
    if (this.started === 0) this.started = now;
    if (now - this.lastDraw < 100 && e.bytesDone < e.bytesTotal) return;
    this.lastDraw = now;
    const fraction = e.bytesTotal ? e.bytesDone / e.bytesTotal : 1;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? e.bytesDone / seconds : 0;
    const eta = rate > 0 ? (e.bytesTotal - e.bytesDone) / rate : Infinity;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const line =
      `${bar} ${(fraction * 100).toFixed(1).padStart(5)}%  ${(e.bytesDone / MB).toFixed(0)}/${(e.bytesTotal / MB).toFixed(0)} MB  ` +
      `${(rate / MB).toFixed(0)} MB/s  ETA ${formatSeconds(eta)}  ${e.name}`;
    const columns = this.stream.columns ?? 120;
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
    this.drawn = true;
  }

  /** Moves off the bar line before other output. */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\n');
    this.drawn = false;
  }
}
