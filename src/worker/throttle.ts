/**
 * Per-chunk progress would be thousands of postMessages per second on a fast disk. Tensor events are
 * passed on at most every `intervalMs` (the last one of each tensor always); every other event, which
 * is rare and meaningful (logs, plan, checks), goes at once and flushes anything held back first.
 */
import type { ProgressEvent, ProgressListener } from '../core/convert/progress.ts';

export function throttleProgress(
  forward: ProgressListener,
  intervalMs = 100,
  now: () => number = () => performance.now(),
): ProgressListener & { flush(): void } {
  let held: ProgressEvent | undefined;
  let last = -Infinity;
  const send = (e: ProgressEvent) => {
    held = undefined;
    last = now();
    forward(e);
  };
  const listener = (e: ProgressEvent) => {
    if (e.status !== 'tensor') {
      if (held) send(held);
      send(e);
      return;
    }
    const tensorDone = e.tensorDone === e.tensorTotal;
    if (tensorDone || now() - last >= intervalMs) send(e);
    else held = e;
  };
  return Object.assign(listener, {
    flush() {
      if (held) send(held);
    },
  });
}
