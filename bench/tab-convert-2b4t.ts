/**
 * The web app on the full-size, 2B-4T-shaped synthetic checkpoint that `npm run bench` generates
 * (bench/.cache/2b4t-packed, ≈1.2 GB in, ≈9.7 GB fp32 out): conversion MB/s in the tab and peak memory
 * of the browser's renderer process (page + worker + WASM heaps), sampled from /proc while it runs.
 *
 *   npm run bench && npm run build && npx tsx bench/tab-convert-2b4t.ts [--format fp32|int8|int2] [--check]
 *
 * Results go to test/.out/browser-bench-<format>.json. Not part of `npm test`: it writes ~10 GB.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DIST,
  REPO,
  clearStorage,
  conversionResult,
  openApp,
  waitForPhase,
  watchContext,
} from '../test/browser/app-harness.ts';
import { launchChromium } from '../test/browser/chromium.ts';
import { serveStatic } from '../src/platform/node/static-server.ts';
import { sampleBrowser } from './lib/chromium-processes.ts';

const { values } = parseArgs({
  options: { format: { type: 'string', default: 'fp32' }, check: { type: 'boolean', default: false } },
});
const format = values.format as 'fp32' | 'int8' | 'int2';
const modelDir = path.join(REPO, 'bench/.cache/2b4t-packed');
if (!existsSync(path.join(modelDir, 'model.safetensors'))) {
  throw new Error('bench/.cache/2b4t-packed is missing: run `npm run bench` once to generate it');
}

const server = await serveStatic(DIST, { mount: '/app/' });
const browser = await launchChromium();
const peak = { renderer: 0, total: 0 };
const sampler = setInterval(() => {
  const s = sampleBrowser(browser.profile);
  peak.renderer = Math.max(peak.renderer, s.renderer);
  peak.total = Math.max(peak.total, s.total);
}, 100);
try {
  const watch = await watchContext(browser.context, server.origin);
  const page = await openApp(browser.context, server.url, watch);
  await clearStorage(page);
  const idle = sampleBrowser(browser.profile);
  await page
    .getByTestId('file-input')
    .setInputFiles(readdirSync(modelDir).map((f) => path.join(modelDir, f)));
  await waitForPhase(page, ['ready']);
  await page.getByTestId(`format-${format}`).check();
  const box = page.getByTestId('runtime-check');
  if (values.check) await box.check();
  else await box.uncheck();
  console.log(`converting the 2B-4T-shaped checkpoint to ${format} in the tab…`);
  const started = Date.now();
  await page.getByTestId('convert').click();
  const phase = await waitForPhase(page, ['done', 'failed'], 3_600_000);
  const wall = (Date.now() - started) / 1000;
  if (phase !== 'done')
    throw new Error(`conversion ${phase}: ${await page.getByTestId('problem').textContent()}`);
  const result = await conversionResult(page);
  const displayed = await page.evaluate(
    () =>
      (globalThis as unknown as { bitnet2onnx: { app: { progress?: { mbPerSecond?: number } } } }).bitnet2onnx
        .app.progress?.mbPerSecond,
  );
  const figures = {
    format,
    runtimeCheck: values.check ? (result.runtime?.passed ? 'passed (probe)' : 'ran') : 'off',
    outputGB: +(result.bytesWritten / 1e9).toFixed(2),
    engineWriteSeconds: +result.writeSeconds.toFixed(1),
    engineMBps: +(result.bytesWritten / result.writeSeconds / 1e6).toFixed(0),
    displayedMBps: displayed === undefined ? undefined : +displayed.toFixed(0),
    wallSecondsIncludingChecks: +wall.toFixed(1),
    idleRendererMiB: Math.round(idle.renderer / 2 ** 20),
    idleAllChromiumMiB: Math.round(idle.total / 2 ** 20),
    peakRendererMiB: Math.round(peak.renderer / 2 ** 20),
    peakAllChromiumMiB: Math.round(peak.total / 2 ** 20),
    kernels: result.kernels,
    foreignRequests: watch.foreign.length,
  };
  console.log(figures);
  mkdirSync(path.join(REPO, 'test/.out'), { recursive: true });
  writeFileSync(
    path.join(REPO, `test/.out/browser-bench-${format}.json`),
    `${JSON.stringify(figures, null, 2)}\n`,
  );
  await clearStorage(page);
} finally {
  clearInterval(sampler);
  await browser.close();
  await server.close();
}
