/**
 * This machine's memory read bandwidth, as decode sees it: `threads` worker threads (decode runs on 2), each
 * reading its own buffer far larger than the caches, all started together. Two read-only loops:
 *   - memchr: Buffer.indexOf of a byte the buffer (all 2s) does not hold (libc's vectorised scan, no writes);
 *   - js-sum: a JavaScript loop summing an Int32Array into four accumulators.
 * Each runs for about `seconds`; GB/s = bytes read by all threads ÷ the slowest thread's time. Prints JSON.
 *
 *   node --import tsx bench/lib/bandwidth-child.ts '<json BandwidthArgs>'
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface BandwidthArgs {
  threads: number;
  /** Bytes per thread. */
  bytesPerThread: number;
  seconds: number;
}

export interface BandwidthResult {
  threads: number;
  bytesPerThread: number;
  /** GB/s (1e9 bytes) per method; best of a few repeats each. */
  memchrGBps: number;
  jsSumGBps: number;
  runs: { method: string; GBps: number }[];
}

// Plain JavaScript for the workers (eval'd: no loader needed inside them).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { bytes, seconds, control } = workerData;
const buf = Buffer.alloc(bytes, 2); // written (not calloc's shared zero page): every page real before timing
const ints = new Int32Array(buf.buffer, buf.byteOffset, bytes >> 2);
const flag = new Int32Array(control);
function memchr() { if (buf.indexOf(1) !== -1) throw new Error('unexpected byte'); }
function jsSum() {
  let a = 0, b = 0, c = 0, d = 0;
  const n = ints.length;
  for (let i = 0; i < n; i += 4) { a = (a + ints[i]) | 0; b = (b + ints[i + 1]) | 0; c = (c + ints[i + 2]) | 0; d = (d + ints[i + 3]) | 0; }
  if ((a ^ b ^ c ^ d) === 12345) throw new Error('unexpected sum');
}
memchr(); jsSum(); jsSum();
parentPort.on('message', (method) => {
  const f = method === 'memchr' ? memchr : jsSum;
  Atomics.add(flag, 0, 1);
  while (Atomics.load(flag, 0) < flag[1]) {} // start together
  const t0 = performance.now();
  let passes = 0;
  while (passes < 2 || performance.now() - t0 < seconds * 1000) { f(); passes++; }
  parentPort.postMessage({ bytes: passes * bytes, ms: performance.now() - t0 });
});
parentPort.postMessage('ready');
`;

async function measure(a: BandwidthArgs): Promise<BandwidthResult> {
  const control = new SharedArrayBuffer(8);
  const flag = new Int32Array(control);
  flag[1] = a.threads;
  const workers = Array.from(
    { length: a.threads },
    () =>
      new Worker(WORKER, {
        eval: true,
        workerData: { bytes: a.bytesPerThread, seconds: a.seconds, control },
      }),
  );
  await Promise.all(workers.map((w) => new Promise((ok) => w.once('message', ok))));
  const round = async (method: string) => {
    flag[0] = 0;
    const rs = await Promise.all(
      workers.map(
        (w) =>
          new Promise<{ bytes: number; ms: number }>((ok, fail) => {
            w.once('message', ok);
            w.once('error', fail);
            w.postMessage(method);
          }),
      ),
    );
    const bytes = rs.reduce((s, r) => s + r.bytes, 0);
    return bytes / 1e9 / (Math.max(...rs.map((r) => r.ms)) / 1000);
  };
  const runs: { method: string; GBps: number }[] = [];
  for (let rep = 0; rep < 3; rep++)
    for (const method of ['memchr', 'js-sum']) runs.push({ method, GBps: await round(method) });
  await Promise.all(workers.map((w) => w.terminate()));
  const best = (m: string) => Math.max(...runs.filter((r) => r.method === m).map((r) => r.GBps));
  return {
    threads: a.threads,
    bytesPerThread: a.bytesPerThread,
    memchrGBps: best('memchr'),
    jsSumGBps: best('js-sum'),
    runs,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  console.log(JSON.stringify(await measure(JSON.parse(process.argv[2]) as BandwidthArgs)));
}
