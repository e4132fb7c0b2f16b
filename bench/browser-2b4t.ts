/**
 * The 2B-4T-shaped model in the browser, through the app's own generation panel: the built app
 * (`npm run build:app`, dist/) is served on 127.0.0.1, headless Chromium opens it, picks the converted
 * model folder through the panel's folder input (`open-converted`), chooses the backend (`backend`), types
 * a prompt of token ids (the synthetic checkpoint has no tokenizer), sets `max-new-tokens`, clicks
 * `generate` and waits for `generation[data-state]` to leave `running`. The session is the one the app
 * creates (src/worker/generator-service.ts → src/runtime/ort-web.ts / ort-webgpu.ts) and the decode loop
 * is the app's (src/core/generate).
 *
 *   npm run bench:browser [-- --checkpoint DIR] [--models int2,int2-q8,int8,int8-q8]
 *     [--backends wasm1,wasm2,webgpu] [--tokens 32] [--gpu-tokens 4] [--reuse] [--no-refusal]
 *
 * Models: the real CLI's model folder (`--output-dir … --format int2|int8 --no-check`, `--head q8` for the
 * -q8 ones) of the synthetic 2B-4T-shaped packed checkpoint (`--checkpoint DIR`, or
 * BENCH_2B4T_CHECKPOINT, default bench/.cache/2b4t-packed, generated once when missing). --reuse keeps
 * folders already in bench/.cache/browser-<model>.
 * Backends: wasm1 serves the app as a static host does (not cross-origin isolated: 1 thread); wasm2 adds
 * COOP/COEP, so the app runs onnxruntime-web on 2 threads (all of this machine's cores); webgpu launches
 * Chromium with WebGPU on SwiftShader (Vulkan on the CPU): those figures are correctness-only, not a GPU's.
 * A model the app refuses before loading (its memory estimate exceeds the backend's limit) is reported
 * with the panel's message; --no-refusal lifts the app's limit (`?wasm-heap-limit=`) to see what happens
 * without it.
 *
 * Per run: load seconds (as the panel reports them: files read, estimate, session created), prefill ms,
 * decode ms/token (mean over every generated token after the first), tokens generated and why it
 * stopped, the WASM heap (its size at the end, which is its peak: a wasm memory never shrinks; read in the
 * generation worker) and the renderer's peak RSS (VmHWM; the worker runs in it). Results:
 * bench/.cache/results-browser.json. Noise: the 1-minute load average at the start and per run, and the
 * CPU other processes used during each run (from /proc/stat, this bench and its browser excluded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { pageCsp, serveStatic, type StaticServer } from '../src/platform/node/static-server.ts';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page, Worker } from 'playwright-core';
import { BITNET_2B_4T_DIMS } from '../src/core/bitnet/synthetic.ts';
import { CHROMIUM, launchChromium } from '../test/browser/chromium.ts';
import { sampleBrowser } from './lib/chromium-processes.ts';
import { CACHE_DIR, CLI, REPO_DIR, ensureCheckpoint, loadAverage } from './lib/proc.ts';

const DIST = path.join(REPO_DIR, 'dist');
const RESULTS = path.join(CACHE_DIR, 'results-browser.json');
const MiB = 2 ** 20;
/** Other processes' CPU use during a run above which its figures are marked noisy (2 cores here). */
const NOISY_OTHER_CORES = 0.3;

interface Variant {
  name: string;
  format: 'int2' | 'int8';
  cliArgs: string[];
}

const VARIANTS: Variant[] = [
  { name: 'int2', format: 'int2', cliArgs: [] },
  { name: 'int2-q8', format: 'int2', cliArgs: ['--head', 'q8'] },
  { name: 'int8', format: 'int8', cliArgs: [] },
  { name: 'int8-q8', format: 'int8', cliArgs: ['--head', 'q8'] },
];

interface BackendRun {
  name: string;
  backend: 'wasm' | 'webgpu';
  /** Serve with COOP/COEP (cross-origin isolated: the app then runs WASM on more than one thread). */
  isolated: boolean;
  label: string;
}

const BACKENDS: BackendRun[] = [
  { name: 'wasm1', backend: 'wasm', isolated: false, label: 'WASM, 1 thread' },
  { name: 'wasm2', backend: 'wasm', isolated: true, label: 'WASM, 2 threads (COOP/COEP)' },
  { name: 'webgpu', backend: 'webgpu', isolated: false, label: 'WebGPU (correctness-only, SwiftShader)' },
];

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    models: { type: 'string', default: VARIANTS.map((v) => v.name).join(',') },
    backends: { type: 'string', default: BACKENDS.map((b) => b.name).join(',') },
    tokens: { type: 'string', default: '32' },
    'gpu-tokens': { type: 'string', default: '4' },
    reuse: { type: 'boolean', default: false },
    'no-refusal': { type: 'boolean', default: false },
  },
});
const pick = <T extends { name: string }>(list: string, known: T[], flag: string): T[] =>
  list.split(',').map((name) => {
    const found = known.find((k) => k.name === name);
    if (!found) throw new Error(`${flag}: unknown ${name} (expected ${known.map((k) => k.name).join(', ')})`);
    return found;
  });
const variants = pick(values.models, VARIANTS, '--models');
const backends = pick(values.backends, BACKENDS, '--backends');
const TOKENS = Number(values.tokens);
const GPU_TOKENS = Number(values['gpu-tokens']);
const CHECKPOINT_DIR =
  values.checkpoint ?? process.env.BENCH_2B4T_CHECKPOINT ?? path.join(CACHE_DIR, '2b4t-packed');
/** BOS and seven ordinary ids; the synthetic weights make any ids equally meaningful. */
const PROMPT = [128000, 791, 6864, 315, 9822, 374, 12366, 13];

const modelDir = (v: Variant) => path.join(CACHE_DIR, `browser-${v.name}`);

function filesUnder(dir: string): { name: string; bytes: number }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((n) => statSync(path.join(dir, n)).isFile())
    .sort()
    .map((name) => ({ name, bytes: statSync(path.join(dir, name)).size }));
}

/** The real CLI, as a person would run it: a model folder with one format. */
function convert(v: Variant) {
  const outDir = modelDir(v);
  if (values.reuse && existsSync(path.join(outDir, 'config.json'))) {
    console.log(`reusing ${path.relative(REPO_DIR, outDir)}`);
    return { model: v.name, seconds: 0, reused: true, files: filesUnder(outDir) };
  }
  rmSync(outDir, { recursive: true, force: true });
  const args = [CLI, '--input', CHECKPOINT_DIR, '--output-dir', outDir, '--format', v.format];
  args.push(...v.cliArgs, '--no-check');
  console.log(`$ node ${args.map((a) => (path.isAbsolute(a) ? path.relative(REPO_DIR, a) : a)).join(' ')}`);
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0)
    throw new Error(`conversion to ${v.name} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  console.log(`  converted in ${seconds.toFixed(1)} s`);
  return { model: v.name, seconds: +seconds.toFixed(1), reused: false, files: filesUnder(outDir) };
}

/**
 * dist/ on 127.0.0.1 with the page's Content-Security-Policy as a header (as `bitnet2onnx app` sends it,
 * so the workers run under it too); with `isolated`, COOP/COEP on every response.
 */
function serveApp(isolated: boolean): Promise<StaticServer> {
  return serveStatic(DIST, {
    csp: pageCsp(readFileSync(path.join(DIST, 'index.html'), 'utf8')),
    headers: isolated
      ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
      : undefined,
  });
}

/**
 * Installed in the generation worker as soon as it starts (before onnxruntime creates its memory, which
 * happens when the first session is created, after the model files are read): records every
 * WebAssembly.Memory so its size can be read. A wasm memory never shrinks: its size is its peak.
 * Plain JavaScript in a string: it runs in the worker as written (no bundler helpers).
 */
const HEAP_PROBE = `(() => {
  if (globalThis.__heapBytes) return 'already';
  const memories = new Set();
  const Native = WebAssembly.Memory;
  WebAssembly.Memory = new Proxy(Native, {
    construct(target, args, newTarget) {
      const memory = Reflect.construct(target, args, newTarget);
      memories.add(memory);
      return memory;
    },
  });
  const grab = (result) => {
    const instance = result && (result.instance || result);
    if (instance && instance.exports)
      for (const v of Object.values(instance.exports)) if (v instanceof Native) memories.add(v);
    return result;
  };
  const instantiate = WebAssembly.instantiate;
  const streaming = WebAssembly.instantiateStreaming;
  WebAssembly.instantiate = function (...args) { return instantiate.apply(this, args).then(grab); };
  if (streaming)
    WebAssembly.instantiateStreaming = function (...args) { return streaming.apply(this, args).then(grab); };
  globalThis.__heapBytes = () => Math.max(0, ...[...memories].map((m) => m.buffer.byteLength));
  return 'installed';
})()`;

const USER_HZ = 100;

/** Clock ticks all CPUs spent busy since boot (/proc/stat: user, nice, system, irq, softirq, steal). */
function busyTicks(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + steal;
}

interface PanelModel {
  loadSeconds: number;
  threads?: number;
  bytes: number;
  memory: { needBytes: number; limitBytes?: number; fits: boolean };
}

interface Run {
  model: string;
  backend: string;
  label: string;
  threads?: number;
  crossOriginIsolated?: boolean;
  outcome: 'generated' | 'refused' | 'load failed' | 'generation failed' | 'error';
  message?: string;
  loadSeconds?: number;
  estimateGiB?: number;
  estimateLimitGiB?: number;
  requestedTokens: number;
  tokens: number;
  stopReason?: string;
  state?: string;
  prefillMs?: number;
  decodeMsPerToken?: number;
  tokensPerSecond?: number;
  ids?: number[];
  wasmHeapAfterLoadMiB?: number;
  wasmHeapPeakMiB?: number;
  peakRendererRssMiB: number;
  loadAverage: [number, number, number];
  otherProcessesCores: number;
  consoleErrors: string[];
}

interface GenView {
  model?: PanelModel;
  loadProblem?: { message: string; hint: string };
  refusal?: unknown;
  runProblem?: { message: string; hint: string };
  firstTokenMs?: number;
  elapsedMs: number;
  reason?: string;
  tokensPerSecond?: number;
}

const genView = (page: Page): Promise<GenView> =>
  page.evaluate(() => {
    const gen = (globalThis as unknown as { bitnet2onnx: { gen: Record<string, unknown> } }).bitnet2onnx.gen;
    return JSON.parse(
      JSON.stringify({
        model: gen.model,
        loadProblem: gen.loadProblem,
        refusal: gen.refusal,
        runProblem: gen.runProblem,
        firstTokenMs: gen.firstTokenMs,
        elapsedMs: gen.elapsedMs,
        reason: gen.reason,
        tokensPerSecond: gen.tokensPerSecond,
      }),
    );
  });

async function runInApp(v: Variant, b: BackendRun): Promise<Run> {
  const tokens = b.backend === 'webgpu' ? GPU_TOKENS : TOKENS;
  const loadAvg = loadAverage();
  const busyBefore = busyTicks();
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  const server = await serveApp(b.isolated);
  const browser = await launchChromium({ webgpu: b.backend === 'webgpu' });
  const peak = { renderer: 0 };
  const browserTicks = new Map<string, number>();
  const sample = () => {
    const s = sampleBrowser(browser.profile);
    peak.renderer = Math.max(peak.renderer, s.renderer);
    for (const [pid, ticks] of s.cpu) browserTicks.set(pid, Math.max(ticks, browserTicks.get(pid) ?? 0));
  };
  const sampler = setInterval(sample, 200);
  const consoleErrors: string[] = [];
  const run: Run = {
    model: v.name,
    backend: b.name,
    label: b.label,
    outcome: 'error',
    requestedTokens: tokens,
    tokens: 0,
    peakRendererRssMiB: 0,
    loadAverage: loadAvg,
    otherProcessesCores: 0,
    consoleErrors,
  };
  let worker: Worker | undefined;
  const heap = async () =>
    worker
      ? Math.round(
          ((await worker
            .evaluate('globalThis.__heapBytes ? globalThis.__heapBytes() : 0')
            .catch(() => 0)) as number) / MiB,
        ) || undefined
      : undefined;
  const tag = `${v.name}/${b.name}`;
  try {
    const page = await browser.context.newPage();
    page.on('worker', (w) => {
      if (!/generate-worker/.test(w.url())) return;
      worker = w;
      w.evaluate(HEAP_PROBE).then(
        (r) => console.log(`  ${tag}: heap probe ${r} in ${w.url().split('/').pop()}`),
        (e: unknown) => console.log(`  ${tag}: heap probe failed: ${(e as Error).message}`),
      );
    });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        consoleErrors.push(`${m.type()}: ${m.text().slice(0, 500)}`);
        console.log(`  ${tag} console.${m.type()}: ${m.text().slice(0, 300)}`);
      }
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    const crashed = new Promise<never>((_, reject) =>
      page.once('crash', () => reject(new Error('the renderer process crashed (page "crash" event)'))),
    );
    const query = values['no-refusal'] ? '?wasm-heap-limit=1e15' : '';
    await page.goto(`${server.origin}/${query}`);
    await page.getByTestId('backend-status').waitFor();
    run.crossOriginIsolated = await page.evaluate(() => self.crossOriginIsolated);
    const drive = async () => {
      // Backend first (the detection of WebGPU picks it by default when there is an adapter).
      await page.waitForFunction(() => {
        const gen = (globalThis as unknown as { bitnet2onnx: { gen: { webGpu?: unknown } } }).bitnet2onnx.gen;
        return gen.webGpu !== undefined;
      });
      if ((await page.getByTestId('backend').inputValue()) !== b.backend)
        await page.getByTestId('backend').selectOption(b.backend);
      console.log(`  ${tag}: opening ${path.relative(REPO_DIR, modelDir(v))} in the panel`);
      await page.getByTestId('open-converted').setInputFiles(modelDir(v));
      await page.waitForSelector(
        '[data-testid=generate-model][data-phase=ready], [data-testid=generate-model][data-phase=failed]',
        { timeout: 20 * 60_000 },
      );
      const loaded = await genView(page);
      run.wasmHeapAfterLoadMiB = await heap();
      if (!loaded.model) {
        run.outcome = loaded.refusal ? 'refused' : 'load failed';
        run.message = `${loaded.loadProblem?.message} — ${loaded.loadProblem?.hint}`;
        return;
      }
      run.loadSeconds = +loaded.model.loadSeconds.toFixed(1);
      run.threads = loaded.model.threads;
      run.estimateGiB = +(loaded.model.memory.needBytes / 2 ** 30).toFixed(2);
      run.estimateLimitGiB =
        loaded.model.memory.limitBytes !== undefined
          ? +(loaded.model.memory.limitBytes / 2 ** 30).toFixed(2)
          : undefined;
      console.log(
        `  ${tag}: loaded in ${run.loadSeconds} s (heap ${run.wasmHeapAfterLoadMiB ?? '?'} MiB, estimate ${run.estimateGiB} GiB); generating ${tokens} tokens`,
      );
      await page.getByTestId('prompt').fill(PROMPT.join(','));
      await page.getByTestId('max-new-tokens').fill(String(tokens));
      await page.getByTestId('generate').click();
      const out = page.locator('[data-testid=generation]:not([data-state=running])');
      await out.waitFor({ timeout: 60 * 60_000 });
      const ids = (await out.getAttribute('data-token-ids')) ?? '';
      run.ids = ids === '' ? [] : ids.split(',').map(Number);
      run.tokens = run.ids.length;
      run.state = (await out.getAttribute('data-state')) ?? undefined;
      const done = await genView(page);
      run.stopReason = done.reason;
      if (run.state === 'failed') {
        run.outcome = 'generation failed';
        run.message = `${done.runProblem?.message} — ${done.runProblem?.hint}`;
        return;
      }
      run.outcome = 'generated';
      run.prefillMs = done.firstTokenMs !== undefined ? Math.round(done.firstTokenMs) : undefined;
      if (done.firstTokenMs !== undefined && run.tokens > 1)
        run.decodeMsPerToken = Math.round((done.elapsedMs - done.firstTokenMs) / (run.tokens - 1));
      run.tokensPerSecond = done.tokensPerSecond !== undefined ? +done.tokensPerSecond.toFixed(3) : undefined;
    };
    await Promise.race([drive(), crashed]);
    run.wasmHeapPeakMiB = await heap();
  } catch (e) {
    run.outcome = 'error';
    run.message = (e as Error).message.split('\n')[0];
  } finally {
    sample();
    clearInterval(sampler);
    const own = process.cpuUsage(ownBefore);
    const ours =
      [...browserTicks.values()].reduce((a, x) => a + x, 0) + ((own.user + own.system) / 1e6) * USER_HZ;
    const seconds = (performance.now() - started) / 1000;
    run.otherProcessesCores = +(Math.max(0, busyTicks() - busyBefore - ours) / USER_HZ / seconds).toFixed(2);
    run.peakRendererRssMiB = Math.round(peak.renderer / MiB);
    await browser.close();
    await server.close();
  }
  return run;
}

const cell = (x: unknown, width: number) => String(x ?? '—').padStart(width);

async function main() {
  if (!existsSync(path.join(DIST, 'index.html')))
    throw new Error('dist/ is missing: run `npm run build:app` first (the bench drives the built app)');
  await mkdir(CACHE_DIR, { recursive: true });
  const startLoad = loadAverage();
  console.log(`load average at start: ${startLoad.join(', ')} (1, 5, 15 min; ${os.cpus().length} cores)`);
  await ensureCheckpoint(CHECKPOINT_DIR, BITNET_2B_4T_DIMS);
  const conversions = variants.map(convert);
  const runs: Run[] = [];
  for (const v of variants) {
    for (const b of backends) {
      console.log(`\n${v.name} on ${b.label}; load average ${loadAverage().join(', ')}`);
      const run = await runInApp(v, b);
      runs.push(run);
      console.log(
        `  → ${run.outcome}${run.message ? `: ${run.message}` : ''}; ${run.tokens} tokens; prefill ${run.prefillMs ?? '—'} ms; ` +
          `decode ${run.decodeMsPerToken ?? '—'} ms/token; heap ${run.wasmHeapPeakMiB ?? '—'} MiB; renderer peak ${run.peakRendererRssMiB} MiB; others ${run.otherProcessesCores} cores`,
      );
      await writeFile(RESULTS, `${JSON.stringify({ partial: true, runs }, null, 2)}\n`);
    }
  }
  const endLoad = loadAverage();
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1) },
    chromium: spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    onnxruntimeWeb: JSON.parse(
      readFileSync(path.join(REPO_DIR, 'node_modules/onnxruntime-web/package.json'), 'utf8'),
    ).version,
    checkpoint: CHECKPOINT_DIR,
    loadAverage: { start: startLoad, end: endLoad },
    noRefusal: values['no-refusal'],
    prompt: PROMPT,
    conversions,
    runs,
  };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  console.log(
    `\n2B-4T-shaped model in the app's generation panel: onnxruntime-web ${results.onnxruntimeWeb}, ${results.chromium}`,
  );
  console.log(
    `  load average (1, 5, 15 min): ${startLoad.join(', ')} at start, ${endLoad.join(', ')} at end`,
  );
  for (const c of conversions) {
    const total = c.files.reduce((n, f) => n + f.bytes, 0);
    console.log(
      `  ${c.model.padEnd(8)} ${(total / 1e9).toFixed(2)} GB${c.reused ? ' (reused)' : `, converted in ${c.seconds} s`}`,
    );
  }
  console.log(
    `  ${'model'.padEnd(8)} ${'backend'.padEnd(40)} ${'load s'.padStart(6)} ${'prefill ms'.padStart(10)} ${'ms/token'.padStart(8)} ${'tokens'.padStart(6)} ${'heap MiB'.padStart(8)} ${'RSS MiB'.padStart(7)} ${'est GiB'.padStart(7)} ${'load1'.padStart(5)} ${'others'.padStart(6)}  outcome`,
  );
  for (const r of runs) {
    const noisy = r.otherProcessesCores > NOISY_OTHER_CORES ? ' (noisy)' : '';
    const outcome =
      r.outcome === 'generated'
        ? `generated ${r.tokens}/${r.requestedTokens} (${r.stopReason})${noisy}`
        : `${r.outcome}${r.tokens ? ` after ${r.tokens} tokens` : ''}: ${r.message}`;
    console.log(
      `  ${r.model.padEnd(8)} ${r.label.padEnd(40)} ${cell(r.loadSeconds, 6)} ${cell(r.prefillMs, 10)} ${cell(r.decodeMsPerToken, 8)} ${cell(r.tokens, 6)} ${cell(r.wasmHeapPeakMiB, 8)} ${cell(r.peakRendererRssMiB, 7)} ${cell(r.estimateGiB, 7)} ${cell(r.loadAverage[0], 5)} ${cell(r.otherProcessesCores, 6)}  ${outcome}`,
    );
  }
  const int2 = runs.find((r) => r.model === 'int2' && r.backend === 'wasm1');
  if (int2)
    console.log(
      `  acceptance: int2 (exact head) in the panel on WASM generated ${int2.tokens} tokens` +
        ` (${int2.tokens >= 32 ? 'at least 32: yes' : 'fewer than 32'}), heap ${int2.wasmHeapPeakMiB ?? '?'} MiB of 4096`,
    );
  console.log(`  results: ${path.relative(REPO_DIR, RESULTS)}`);
}

await main();
