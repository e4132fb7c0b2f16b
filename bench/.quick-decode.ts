// quick decode timing (temporary, not committed)
import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
const [model, profile] = [process.argv[2], process.argv[3] === 'profile'];
const L = 30, KV = 5, HD = 128;
const rss = () => Number(readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/)![1]) / 1048576;
const t0 = performance.now();
const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: Number(process.env.T ?? 2), graphOptimizationLevel: 'all' };
if (profile) { mkdirSync('/work/exp/prof', { recursive: true }); opts.enableProfiling = true; opts.profileFilePrefix = '/work/exp/prof/p'; }
const s = await ort.InferenceSession.create(model, opts);
const load = (performance.now() - t0) / 1000;
const feeds = (ids: number[], past: number, cache?: Record<string, ort.Tensor>) => {
  const f: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(past + ids.length).fill(1n), [1, past + ids.length]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(past + i))), [1, ids.length]),
  };
  for (let i = 0; i < L; i++) {
    f[`past_key_values.${i}.key`] = cache?.[`present.${i}.key`] ?? new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, HD]);
    f[`past_key_values.${i}.value`] = cache?.[`present.${i}.value`] ?? new ort.Tensor('float32', new Float32Array(0), [1, KV, 0, HD]);
  }
  return f;
};
const prompt = Array.from({ length: 128 }, (_, i) => (i * 7919 + 13) % 128256);
let t = performance.now();
const pre = await s.run(feeds(prompt, 0));
const prefillS = (performance.now() - t) / 1000;
const step = feeds([42], 128, pre as Record<string, ort.Tensor>);
const times: number[] = [];
for (let i = 0; i < (profile ? 8 : 25); i++) { t = performance.now(); await s.run(step); times.push(performance.now() - t); }
times.sort((a, b) => a - b);
console.log(`${model}: load ${load.toFixed(1)} s, prefill ${(128 / prefillS).toFixed(1)} tok/s, decode median ${times[times.length >> 1].toFixed(1)} ms (min ${times[0].toFixed(1)}), peak RSS ${rss().toFixed(2)} GiB`);
if (profile) {
  s.endProfiling(); await s.release(); const file = '/work/exp/prof/' + readdirSync('/work/exp/prof').filter((f) => f.endsWith('.json')).sort().pop()!;
  const ev = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
  const runs = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs.slice(-6);
  const byOp = new Map<string, number>(); let count = 0;
  const lastStart = (ev as any[]).filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(-6)[0].ts;
  for (const e of ev as any[]) if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= lastStart) { byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur); count++; }
  const total = last.reduce((a, e) => a + e.dur, 0) / last.length / 1000;
  console.log(`per step: ${total.toFixed(1)} ms, kernels ${(count / 6).toFixed(0)}`);
  for (const [op, d] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`  ${op.padEnd(34)} ${(d / 6 / 1000).toFixed(2)} ms`);
}
