import type { Remote } from 'comlink';
import { describe, expect, it } from 'vitest';
import { ABANDONED_LOCK_WAIT_MS, WorkerBridge, type WorkerLike } from '../../src/ui/worker-bridge.ts';
import type { ConvertOutcome, ConverterApi, ProgressEvent } from '../../src/worker/api.ts';

/** A stand-in for one worker: `convert` settles when the test says, or never (a worker stuck in WASM). */
class FakeWorker implements WorkerLike {
  terminated = false;
  cancelled = 0;
  abandonedRemoved = 0;
  abandonedWaitMs?: number;
  finish?: (o: ConvertOutcome) => void;
  progress?: (e: ProgressEvent) => void;
  private errorListeners: ((e: Event) => void)[] = [];

  constructor(private readonly honoursCancel: boolean) {}

  terminate() {
    this.terminated = true;
  }

  addEventListener(_type: 'error', listener: (e: Event) => void) {
    this.errorListeners.push(listener);
  }

  /** What a browser does when the worker script fails to load or throws at top level. */
  fail(message = '') {
    const event = Object.assign(new Event('error'), { message });
    for (const l of this.errorListeners) l(event);
  }

  api = {
    inspect: async () => ({ ok: false, problem: { kind: 'input', message: 'x', hint: 'y' } }),
    convert: (_f: unknown, _o: unknown, progress: (e: ProgressEvent) => void) =>
      new Promise<ConvertOutcome>((resolve) => {
        this.finish = resolve;
        this.progress = progress;
      }),
    cancel: async () => {
      this.cancelled++;
      if (this.honoursCancel) this.finish?.({ ok: false, cancelled: true });
    },
    removeAbandoned: async (_folder?: unknown, waitMs?: number) => {
      this.abandonedRemoved++;
      this.abandonedWaitMs = waitMs;
      return [];
    },
    outputFile: async () => undefined,
    clearOutputs: async () => {},
    listStorage: async () => [],
  };
}

/** The grace period is a promise the test resolves itself: no test depends on how fast the clock runs. */
function bridgeOver(workers: FakeWorker[]) {
  let started = 0;
  let graceOver!: () => void;
  let graceAsked = 0;
  const bridge = new WorkerBridge(
    () => {
      const w = workers[started++];
      return { worker: w, api: w.api as unknown as Remote<ConverterApi> };
    },
    () => {
      graceAsked++;
      return new Promise<void>((resolve) => (graceOver = resolve));
    },
  );
  return { bridge, started: () => started, endGrace: () => graceOver(), graceAsked: () => graceAsked };
}

const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

const options = {
  destination: { kind: 'opfs' as const },
  layout: 'folder' as const,
  formats: [{ weights: 'fp32' as const }],
  runtimeCheck: false,
  external: 'auto' as const,
};

describe('WorkerBridge', () => {
  it('starts the worker lazily, once', async () => {
    const w = new FakeWorker(true);
    const { bridge, started } = bridgeOver([w]);
    expect(started()).toBe(0);
    await bridge.inspect([]);
    await bridge.inspect([]);
    expect(started()).toBe(1);
  });

  it('passes progress through and resolves with the worker’s outcome', async () => {
    const w = new FakeWorker(true);
    const { bridge } = bridgeOver([w]);
    const seen: ProgressEvent[] = [];
    const outcome = bridge.convert([], options, (e) => seen.push(e));
    await Promise.resolve();
    w.progress?.({ status: 'log', level: 'info', message: 'hi' });
    w.finish?.({ ok: false, cancelled: false, problem: { kind: 'input', message: 'm', hint: 'h' } });
    await expect(outcome).resolves.toMatchObject({ ok: false, cancelled: false });
    expect(seen).toEqual([{ status: 'log', level: 'info', message: 'hi' }]);
  });

  it('refuses a second conversion while one runs', async () => {
    const { bridge } = bridgeOver([new FakeWorker(true)]);
    void bridge.convert([], options, () => {});
    await expect(bridge.convert([], options, () => {})).rejects.toThrow(/already running/);
  });

  it('a worker that honours cancel keeps running (no restart)', async () => {
    const w = new FakeWorker(true);
    const { bridge, started } = bridgeOver([w]);
    const outcome = bridge.convert([], options, () => {});
    await bridge.cancel();
    await expect(outcome).resolves.toEqual({ ok: false, cancelled: true });
    expect(w.terminated).toBe(false);
    expect(started()).toBe(1);
  });

  it('a worker stuck past the grace period is terminated and a fresh one cleans up', async () => {
    const stuck = new FakeWorker(false);
    const fresh = new FakeWorker(true);
    const { bridge, started, endGrace, graceAsked } = bridgeOver([stuck, fresh]);
    const outcome = bridge.convert([], options, () => {});
    let cancelDone = false;
    const cancelling = bridge.cancel().then(() => (cancelDone = true));
    await settled();
    // Until the grace period is over the worker is given its chance: nothing is terminated.
    expect(graceAsked()).toBe(1);
    expect(stuck.terminated).toBe(false);
    expect(cancelDone).toBe(false);
    endGrace();
    // The job settles only once the fresh worker has removed the dead one's staging (waiting for its locks).
    let removedWhenSettled = -1;
    void outcome.then(() => (removedWhenSettled = fresh.abandonedRemoved));
    await cancelling;
    await expect(outcome).resolves.toEqual({ ok: false, cancelled: true });
    expect(removedWhenSettled).toBe(1);
    expect(fresh.abandonedWaitMs).toBe(ABANDONED_LOCK_WAIT_MS);
    expect(stuck.cancelled).toBe(1);
    expect(stuck.terminated).toBe(true);
    expect(started()).toBe(2);
    expect(fresh.abandonedRemoved).toBe(1);
    // The bridge is usable again.
    void bridge.convert([], options, () => {});
    expect(started()).toBe(2);
  });

  it('turns a crashed call into an internal problem', async () => {
    const w = new FakeWorker(true);
    w.api.convert = () => Promise.reject(new Error('boom'));
    const { bridge } = bridgeOver([w]);
    await expect(bridge.convert([], options, () => {})).resolves.toMatchObject({
      ok: false,
      cancelled: false,
      problem: { kind: 'internal' },
    });
  });

  it('a worker that fails to start ends inspect with an environment problem, not a hang', async () => {
    const broken = new FakeWorker(true);
    broken.api.inspect = () => new Promise(() => {}); // a worker that never answers
    const healthy = new FakeWorker(true);
    const { bridge, started } = bridgeOver([broken, healthy]);
    const outcome = bridge.inspect([]);
    await settled();
    broken.fail('Failed to fetch a worker script');
    await expect(outcome).resolves.toMatchObject({
      ok: false,
      problem: {
        kind: 'environment',
        message: expect.stringMatching(/conversion worker failed to start.*Failed to fetch a worker script/),
        hint: expect.stringMatching(/Reload the page/),
      },
    });
    expect(broken.terminated).toBe(true);
    // The next call starts a fresh worker.
    await bridge.inspect([]);
    expect(started()).toBe(2);
  });

  it('a worker that dies mid-conversion settles the job with a problem and a fresh worker cleans up', async () => {
    const dying = new FakeWorker(true);
    const fresh = new FakeWorker(true);
    const { bridge, started } = bridgeOver([dying, fresh]);
    const outcome = bridge.convert([], options, () => {});
    await settled();
    dying.fail();
    await expect(outcome).resolves.toMatchObject({
      ok: false,
      cancelled: false,
      problem: { kind: 'environment', message: 'the conversion worker failed to start or stopped' },
    });
    expect(dying.terminated).toBe(true);
    expect(started()).toBe(2);
    expect(fresh.abandonedRemoved).toBe(1);
  });
});
