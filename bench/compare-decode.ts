/**
 * Before/after of decoder graphs in ONE process: every model's session is open at once and one decode step of
 * each runs in turn, round after round, so machine noise lands on all of them alike. Reports per model the
 * median, 25th percentile and minimum ms per step and the ratio of medians to the first model (the baseline).
 *
 *   npx tsx bench/compare-decode.ts <baseline.onnx> <other.onnx>… [--rounds 20] [--threads 2] [--past 128]
 *
 * The models must share the decoder I/O contract (docs/spec.md §4); the step is one token at position `past`
 * against a cache of `past` positions (deterministic values). Spinning is off in every session: an idle session's
 * intra-op threads otherwise keep spinning after its run and steal the cores from the next one (measured: an
 * 8-bit head 123 ms with spinning sessions beside it, 25 ms without).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { IO_NAMES } from '../src/core/bitnet/decoder-graph.ts';
import { medianOf } from './lib/common.ts';
import { loadAverage } from './lib/proc.ts';

const { values: opts, positionals: models } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    past: { type: 'string', default: '128' },
    warmup: { type: 'string', default: '5' },
  },
});
if (models.length === 0) throw new Error('give one or more .onnx decoder models (the first is the baseline)');
const past = Number(opts.past);

function stepFeeds(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [IO_NAMES.inputIds]: new ort.Tensor('int64', BigInt64Array.from([5n]), [1, 1]),
    [IO_NAMES.attentionMask]: new ort.Tensor('int64', new BigInt64Array(past + 1).fill(1n), [1, past + 1]),
    [IO_NAMES.positionIds]: new ort.Tensor('int64', BigInt64Array.from([BigInt(past)]), [1, 1]),
  };
  for (const name of session.inputNames) {
    if (name in feeds) continue;
    const meta = session.inputMetadata.find((m) => m.name === name);
    const shape = meta && 'shape' in meta ? meta.shape : [];
    const [kv, hd] = [Number(shape[1]), Number(shape[3])];
    const values = Float32Array.from({ length: kv * past * hd }, (_, i) => Math.sin(i) * 0.5);
    feeds[name] = new ort.Tensor('float32', values, [1, kv, past, hd]);
  }
  return feeds;
}

const sessions: ort.InferenceSession[] = [];
for (const model of models) {
  const start = performance.now();
  sessions.push(
    await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: Number(opts.threads),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    }),
  );
  console.log(`load ${((performance.now() - start) / 1000).toFixed(2)} s  ${model}`);
}
const feeds = sessions.map(stepFeeds);
for (let r = 0; r < Number(opts.warmup); r++)
  for (let i = 0; i < sessions.length; i++) await sessions[i].run(feeds[i]);
const times: number[][] = sessions.map(() => []);
console.log(`load average before: ${loadAverage().join(' ')}`);
for (let r = 0; r < Number(opts.rounds); r++) {
  for (let i = 0; i < sessions.length; i++) {
    const start = performance.now();
    await sessions[i].run(feeds[i]);
    times[i].push(performance.now() - start);
  }
}
console.log(
  `load average after: ${loadAverage().join(' ')} (${readFileSync('/proc/loadavg', 'utf8').trim()})`,
);
const base = medianOf(times[0]);
for (let i = 0; i < sessions.length; i++) {
  const sorted = [...times[i]].sort((a, b) => a - b);
  const med = medianOf(sorted);
  console.log(
    `${med.toFixed(1).padStart(7)} ms median  ${sorted[sorted.length >> 2].toFixed(1).padStart(7)} p25  ` +
      `${sorted[0].toFixed(1).padStart(7)} min  ${(med / base).toFixed(3)}× baseline  ${models[i]}`,
  );
}
for (const s of sessions) await s.release();
