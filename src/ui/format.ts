/** Numbers as people read them. Sizes are decimal (MB = 10^6 bytes), as file managers show them. */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

export function formatRate(mbPerSecond: number | undefined): string {
  if (mbPerSecond === undefined || !Number.isFinite(mbPerSecond)) return '—';
  return `${mbPerSecond >= 100 ? mbPerSecond.toFixed(0) : mbPerSecond.toFixed(1)} MB/s`;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatMs(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** 0.000123 → "1.23e-4"; plain digits where they read better. */
export function formatSmall(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toPrecision(3) : x.toExponential(2);
}

export const VARIANT_LABELS: Record<string, string> = {
  'packed-autobitlinear': 'packed ternary, autobitlinear (scale multiplies)',
  'packed-bitlinear': 'packed ternary, legacy bitlinear (scale divides)',
  'online-bf16': 'bf16 master weights, ternarised while converting',
};
