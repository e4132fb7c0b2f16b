/**
 * The built web app, end to end, in headless Chromium: the page served from a subpath by a plain
 * static server, files uploaded through the real inputs, outputs downloaded and compared with the
 * CLI's, cancel, errors, offline reload, and no request to any other origin.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeBadFixtures,
  makeFixtures,
  type BadFixture,
  type BadFixtureName,
  type FixtureName,
} from '../../scripts/make-fixtures.ts';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import { serveStatic, type StaticServer } from '../../src/platform/node/static-server.ts';
import { runCli } from '../helpers/cli.ts';
import { writeSafetensorsFile } from '../helpers/synthetic-files.ts';
import {
  CSP,
  DIST,
  REPO,
  SCREENSHOTS,
  clearStorage,
  conversionResult,
  listStorage,
  openApp,
  requireBuiltApp,
  screenshot,
  waitForPhase,
  watchContext,
  type Watch,
} from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';

/** Big enough that converting takes seconds in the tab (≈ 420 MB of float32 out), for cancel and speed. */
const BIG_DIMS: BitNetDims = {
  hiddenSize: 1024,
  intermediateSize: 2752,
  numLayers: 8,
  numHeads: 16,
  numKvHeads: 4,
  headDim: 64,
  vocabSize: 16000,
  maxPositions: 2048,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

/**
 * The CSP of index.html, also sent as a header: a <meta> policy does not reach the worker, whose policy
 * comes only from its script's header. The worker thus runs under the strict policy too: no
 * 'unsafe-eval' (the engine's protobuf code is generated ahead of time, src/core/onnx/schema.ts), only
 * 'wasm-unsafe-eval' for the WASM kernels and onnxruntime-web.
 */

let root: string;
let server: StaticServer;
let browser: Browser;
let watch: Watch;
let fixtures: Record<FixtureName, string>;
let bad: Record<BadFixtureName, BadFixture>;
let big: string;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  requireBuiltApp();
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-browser-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
  bad = await makeBadFixtures(path.join(root, 'fixtures'));
  big = await writeSafetensorsFile(path.join(root, 'big'), {
    dims: BIG_DIMS,
    variant: 'packed-autobitlinear',
    seed: 7,
  });
  server = await serveStatic(DIST, { mount: '/tools/bitnet2onnx/', csp: CSP, record: true });
  browser = await launchChromium({ downloads: path.join(root, 'downloads') });
  watch = await watchContext(browser.context, server.origin);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (Object.keys(figures).length > 0) {
    mkdirSync(path.join(REPO, 'test/.out'), { recursive: true });
    writeFileSync(path.join(REPO, 'test/.out/browser-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log('browser figures:', figures);
  }
});

const filesOf = (dir: string) => readdirSync(dir).map((f) => path.join(dir, f));

const cliOutputs = new Map<string, string>();
const MODEL_FILES = { fp32: 'model.onnx', int8: 'model_int8.onnx', int2: 'model_q2.onnx' } as const;

/** The CLI's output for a fixture and weight format, converted once. */
function cliOutput(
  name: FixtureName,
  weights: keyof typeof MODEL_FILES = 'fp32',
  head: 'exact' | 'q8' | 'q4' = 'exact',
): string {
  const key = `${name}:${weights}:${head}`;
  let out = cliOutputs.get(key);
  if (!out) {
    out = path.join(root, 'cli', `${name}-${head}`, MODEL_FILES[weights]);
    const run = runCli(['-i', fixtures[name], '-o', out, '--format', weights, '--head', head]);
    expect(run.status, run.stderr).toBe(0);
    cliOutputs.set(key, out);
  }
  return out;
}

async function convert(page: Page, options: { runtimeCheck?: boolean } = {}): Promise<void> {
  const box = page.getByTestId('runtime-check');
  if (options.runtimeCheck === false) await box.uncheck();
  else await box.check();
  await page.getByTestId('convert').click();
}

/** The rate the page shows: output bytes over the time from the first tensor to the last byte. */
function displayedRate(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      (globalThis as unknown as { bitnet2onnx: { app: { progress?: { mbPerSecond?: number } } } }).bitnet2onnx
        .app.progress?.mbPerSecond ?? NaN,
  );
}

const shotPath = (name: string) => path.join(SCREENSHOTS, `${name}.png`);

async function download(page: Page, name: string, to: string): Promise<Buffer> {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(`[data-testid=download][data-file="${name}"]`).click(),
  ]);
  const target = path.join(to, name);
  await file.saveAs(target);
  return readFileSync(target);
}

describe('web app (built, in Chromium)', () => {
  it('shows the empty state, keyboard-reachable controls, and no layout overflow at phone width', async () => {
    const page = await openApp(browser.context, server.url, watch);
    expect(await page.getByTestId('status').getAttribute('data-phase')).toBe('idle');
    await screenshot(page, '01-empty');

    // Tab through the page: the file input, the folder input and the sample button are all reachable.
    const reached = new Set<string>();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? ''));
    }
    expect([...reached]).toEqual(expect.arrayContaining(['file-input', 'folder-input', 'sample']));

    await page.setViewportSize({ width: 360, height: 800 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, '02-empty-narrow');
    await page.close();
  });

  it('converts the sample model and passes both checks', async () => {
    const page = await openApp(browser.context, server.url, watch);
    // Keyboard only: focus the sample button and press Enter.
    await page.getByTestId('sample').focus();
    await page.keyboard.press('Enter');
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await expect(page.getByTestId('summary').textContent()).resolves.toMatch(/Vocabulary\s*384/);
    await screenshot(page, '03-sample-ready');

    await convert(page);
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    await expect(page.locator('[data-check=structure]').getAttribute('data-ok')).resolves.toBe('true');
    await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');
    const result = await conversionResult(page);
    expect(result.runtime?.passed).toBe(true);
    expect(result.runtime?.full.argmaxAgree).toBe(result.runtime?.full.positions);
    expect(await listStorage(page)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^outputs\/run-[^/]+\/onnx\/model\.onnx$/)]),
    );
    figures.sample = {
      outputMB: +(result.bytesWritten / 1e6).toFixed(1),
      writeSeconds: +result.writeSeconds.toFixed(3),
      mbPerSecond: +(result.bytesWritten / result.writeSeconds / 1e6).toFixed(1),
      displayedMBps: +(await displayedRate(page)).toFixed(1),
      totalSecondsWithRuntimeCheck: +result.totalSeconds.toFixed(2),
      kernels: result.kernels,
    };
    await screenshot(page, '04-sample-done');
    await page.setViewportSize({ width: 380, height: 900 });
    await screenshot(page, '05-sample-done-narrow');
    // Full-page shots of a phone-width page are too tall to read: the two densest cards on their own.
    await page
      .locator('section', { has: page.getByTestId('checks') })
      .screenshot({ path: shotPath('05b-checks-narrow') });
    await page
      .locator('section', { has: page.getByTestId('outputs') })
      .screenshot({ path: shotPath('05c-files-narrow') });
    await page.close();
  });

  it.each(['packed-tied', 'packed-untied', 'online-bf16', 'packed-sharded'] as const)(
    '%s uploaded through the file input downloads byte-identical to the CLI output',
    async (name) => {
      const cliOut = cliOutput(name);

      const page = await openApp(browser.context, server.url, watch);
      await page.getByTestId('file-input').setInputFiles(filesOf(fixtures[name]));
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      // The single model file, as `--output` writes it (the model folder is test/browser/model-folder.test.ts).
      await page.getByTestId('layout-single').check();
      await convert(page);
      expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
      await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');

      const downloads = path.join(root, 'dl', name);
      const onnx = await download(page, 'model.onnx', downloads);
      expect(onnx.equals(readFileSync(cliOut))).toBe(true);
      const config = await download(page, 'config.json', downloads);
      expect(config.equals(readFileSync(path.join(fixtures[name], 'config.json')))).toBe(true);
      await page.getByTestId('clear-outputs').click();
      expect(await waitForPhase(page, ['ready'])).toBe('ready');
      expect(await listStorage(page)).toEqual([]);
      await page.close();
    },
  );

  it.each(['int8', 'int2'] as const)(
    '%s format: runs in onnxruntime-web and downloads byte-identical to the CLI output',
    async (weights) => {
      const page = await openApp(browser.context, server.url, watch);
      await page.getByTestId('file-input').setInputFiles(filesOf(fixtures['packed-untied']));
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      await page.getByTestId('layout-single').check();
      await page.getByTestId(`format-${weights}`).check();
      await convert(page);
      expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
      await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');
      const onnx = await download(page, MODEL_FILES[weights], path.join(root, 'dl', `untied-${weights}`));
      expect(onnx.equals(readFileSync(cliOutput('packed-untied', weights)))).toBe(true);
      if (weights === 'int2') await screenshot(page, '06-int2-done');
      await page.close();
    },
  );

  it('int2 with the 4-bit re-scored head: runs in onnxruntime-web and downloads byte-identical to the CLI’s --head q4', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await page.getByTestId('file-input').setInputFiles(filesOf(fixtures['packed-untied']));
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await page.getByTestId('layout-single').check();
    await page.getByTestId('format-int2').check();
    await page.getByTestId('head-q4').check();
    await screenshot(page, '06b-int2-q4-ready');
    await convert(page);
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');
    const onnx = await download(page, MODEL_FILES.int2, path.join(root, 'dl', 'untied-int2-q4'));
    expect(onnx.equals(readFileSync(cliOutput('packed-untied', 'int2', 'q4')))).toBe(true);
    await page.close();
  });

  it('accepts a whole folder through the folder input', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await page.getByTestId('folder-input').setInputFiles(fixtures['packed-sharded']);
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await expect(page.getByTestId('selection').textContent()).resolves.toMatch(
      /packed-sharded\/ \(\d+ files\)/,
    );
    await expect(page.getByTestId('summary').textContent()).resolves.toMatch(/in 2 files/);
    await page.close();
  });

  it('accepts files dropped on the drop zone', async () => {
    const page = await openApp(browser.context, server.url, watch);
    // A drop as a page sees it: a DataTransfer holding Files (here the sample's, fetched from the app).
    await page.evaluate(async () => {
      const transfer = new DataTransfer();
      for (const name of ['config.json', 'model.safetensors']) {
        const blob = await (await fetch(`sample/${name}`)).blob();
        transfer.items.add(new File([blob], name));
      }
      const zone = document.querySelector('.dropzone')!;
      zone.dispatchEvent(
        new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }),
      );
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    });
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await expect(page.getByTestId('selection').textContent()).resolves.toMatch(
      /config\.json, model\.safetensors/,
    );
    await page.close();
  });

  it('streams a model folder into a picked folder (File System Access): the CLI’s --output-dir files, nothing staged visible', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await page.getByTestId('file-input').setInputFiles(filesOf(fixtures['packed-tied']));
    await waitForPhase(page, ['ready']);
    // The native picker cannot be driven headless; an OPFS folder handle is the same API to the app.
    await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getDirectoryHandle('picked-folder', { create: true });
      const { app } = (
        globalThis as unknown as { bitnet2onnx: { app: { setDestination(d: unknown): void } } }
      ).bitnet2onnx;
      app.setDestination({ kind: 'folder', handle });
    });
    expect(await page.getByTestId('layout-folder').isChecked()).toBe(true);
    await convert(page, { runtimeCheck: false });
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    await expect(page.getByTestId('status').textContent()).resolves.toMatch(/picked-folder/);
    const names = ['config.json', 'genai_config.json', 'generation_config.json', 'onnx/model.onnx'];
    const stored = await listStorage(page);
    expect(stored.filter((p) => p.startsWith('picked-folder/') && !p.endsWith('/'))).toEqual(
      names.map((n) => `picked-folder/${n}`),
    );
    const cli = path.join(root, 'cli-folder', 'packed-tied');
    const run = runCli(['-i', fixtures['packed-tied'], '--output-dir', cli, '--no-check']);
    expect(run.status, run.stderr).toBe(0);
    for (const name of names) {
      const written = await page.evaluate(async (name) => {
        let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-folder');
        const parts = name.split('/');
        for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
        const file = await (await dir.getFileHandle(parts.at(-1)!)).getFile();
        return Array.from(new Uint8Array(await file.arrayBuffer()));
      }, name);
      expect(Buffer.from(written).equals(readFileSync(path.join(cli, name))), name).toBe(true);
    }
    // A folder has no "Download all": its files are already where the person wanted them.
    expect(await page.getByTestId('download-all').count()).toBe(0);
    await screenshot(page, '07-folder-done');
    await page.evaluate(async () =>
      (await navigator.storage.getDirectory()).removeEntry('picked-folder', { recursive: true }),
    );
    await page.close();
  });

  it('a broken file shows its error in plain words before any work', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await page.getByTestId('file-input').setInputFiles(filesOf(bad['corrupt-header-length'].path));
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('invalid');
    const problem = page.getByTestId('problem');
    await expect(problem.textContent()).resolves.toMatch(/model\.safetensors/);
    await expect(problem.textContent()).resolves.toMatch(/What to do:/);
    expect(await page.getByTestId('convert').isDisabled()).toBe(true);
    await screenshot(page, '08-invalid');

    await page.getByTestId('file-input').setInputFiles(path.join(REPO, 'package.json'));
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('invalid');
    await expect(problem.textContent()).resolves.toMatch(/package\.json.*safetensors checkpoint/);
    await page.close();
  });

  it('a fault found while converting fails the job, names the tensor and keeps nothing', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await clearStorage(page);
    const fixture = bad['packed-code-3'];
    await page.getByTestId('file-input').setInputFiles(filesOf(fixture.path));
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await convert(page, { runtimeCheck: false });
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('failed');
    const text = await page.getByTestId('problem').textContent();
    expect(text).toContain(fixture.tensor!);
    expect(text).toMatch(fixture.problem);
    expect(await listStorage(page)).toEqual([]);
    await screenshot(page, '09-failed');
    await page.close();
  });

  it(
    'converts a larger checkpoint in the tab; cancel midway stops and leaves nothing',
    { timeout: 300_000 },
    async () => {
      const page = await openApp(browser.context, server.url, watch);
      await clearStorage(page);
      await page.getByTestId('file-input').setInputFiles(filesOf(big));
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');

      // A full run first, for the speed figure (no runtime check: this measures conversion).
      await convert(page, { runtimeCheck: false });
      expect(await waitForPhase(page, ['done', 'failed'], 240_000)).toBe('done');
      const result = await conversionResult(page);
      const cliStart = Date.now();
      const cli = runCli(['-i', big, '-o', path.join(root, 'cli-big', 'model.onnx'), '--no-check']);
      const cliWall = (Date.now() - cliStart) / 1000;
      expect(cli.status, cli.stderr).toBe(0);
      const cliWrite = Number(cli.stderr.match(/wrote .* in ([\d.]+) s/)?.[1]);
      figures.larger = {
        outputMB: +(result.bytesWritten / 1e6).toFixed(1),
        tabWriteSeconds: +result.writeSeconds.toFixed(2),
        tabMBps: +(result.bytesWritten / result.writeSeconds / 1e6).toFixed(1),
        tabDisplayedMBps: +(await displayedRate(page)).toFixed(1),
        cliWriteSeconds: cliWrite,
        cliMBps: +(result.bytesWritten / cliWrite / 1e6).toFixed(1),
        cliWallSeconds: +cliWall.toFixed(2),
        kernels: result.kernels,
      };
      rmSync(path.join(root, 'cli-big'), { recursive: true, force: true });
      await screenshot(page, '10-larger-done');

      await clearStorage(page);
      await convert(page, { runtimeCheck: false });
      // Cancel as soon as the first tensor bytes are reported (an event, not a window a fast run could
      // skip); how fast the stop is belongs to bench/, the unit test of WorkerBridge covers the grace
      // period with a clock it controls.
      await page.waitForFunction(
        () => {
          const p = Number(document.querySelector('[data-testid=percent]')?.textContent?.replace('%', ''));
          return p > 0;
        },
        undefined,
        { timeout: 240_000, polling: 'raf' },
      );
      await page.getByTestId('cancel').click();
      await screenshot(page, '11-converting');
      expect(await waitForPhase(page, ['cancelled', 'done', 'failed'], 120_000)).toBe('cancelled');
      expect(await listStorage(page)).toEqual([]);
      await screenshot(page, '12-cancelled');

      // The page stays usable: converting again works.
      await expect(page.getByTestId('convert').isEnabled()).resolves.toBe(true);
      await page.close();
    },
  );

  it('browser storage running out mid-write (a real QuotaExceededError) fails with what to do and keeps nothing', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await clearStorage(page);
    await page.getByTestId('file-input').setInputFiles(filesOf(big));
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    // Chromium's own quota machinery, lowered for this origin: writes past 32 MB are refused by the
    // browser itself, in the worker's OPFS sink, after the up-front room check has passed.
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: 32 * 2 ** 20 });
    try {
      await convert(page, { runtimeCheck: false });
      expect(await waitForPhase(page, ['done', 'failed'], 240_000)).toBe('failed');
      const text = (await page.getByTestId('problem').textContent()) ?? '';
      // Where the quota bites depends on timing: mid-write in the sink (which names the file and the
      // bytes written) or while the worker opens its staging (the generic quota problem). Both say so.
      expect(text).toMatch(
        /model\.onnx: out of storage space after \d+ bytes \(QuotaExceededError\)|storage quota is exhausted/,
      );
      expect(text).toMatch(/What to do:.*Free disk space/);
      expect(text).not.toMatch(/bug/i);
      expect(await listStorage(page)).toEqual([]);
      await screenshot(page, '14-quota');
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin });
      await cdp.detach();
    }
    await page.close();
  });

  it('made no request outside its own origin and broke no CSP rule', () => {
    // The policy every response carried, worker included: WASM may compile, strings may not.
    expect(CSP).toMatch(/script-src 'self' 'wasm-unsafe-eval';/);
    expect(CSP).not.toMatch(/'unsafe-eval'/);
    expect(watch.requests.length).toBeGreaterThan(10);
    expect(watch.foreign).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    // The worker's violations show only here, in the reports the browser posts to the server.
    expect(server.cspReports).toEqual([]);
    expect(watch.errors).toEqual([]);
  });
});

describe('offline', () => {
  it('reloads and converts the sample with the server gone (service worker)', async () => {
    // A server of its own, shut down before the reload: a real outage, not only an emulated one.
    const own = await serveStatic(DIST, { mount: '/bitnet2onnx/', csp: CSP, record: true });
    const offlineBrowser = await launchChromium();
    try {
      const offlineWatch = await watchContext(offlineBrowser.context, own.origin);
      const page = await openApp(offlineBrowser.context, own.url, offlineWatch);
      await page
        .getByTestId('offline-badge')
        .filter({ hasText: 'Works offline' })
        .waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

      await own.close();
      await offlineBrowser.context.setOffline(true);
      await page.reload();
      await page.getByRole('heading', { name: 'bitnet2onnx' }).waitFor();
      await page.getByTestId('offline-badge').filter({ hasText: 'Works offline' }).waitFor();
      await page.getByTestId('sample').click();
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      await convert(page);
      expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
      await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');
      await screenshot(page, '13-offline-done');
      expect(offlineWatch.foreign).toEqual([]);
      expect(offlineWatch.errors).toEqual([]);
      expect(own.cspReports).toEqual([]);
    } finally {
      await offlineBrowser.close();
      await own.close();
    }
  });
});

describe('a worker that cannot start', () => {
  it('ends on a clear problem instead of “Reading the checkpoint headers…” forever', async () => {
    // The built app with its worker script missing, as a broken deployment or a blocked fetch leaves it.
    const broken = path.join(root, 'dist-no-worker');
    cpSync(DIST, broken, { recursive: true });
    const workers = readdirSync(path.join(broken, 'assets')).filter((f) => /^worker-.*\.js$/.test(f));
    expect(workers.length).toBeGreaterThan(0);
    for (const f of workers) rmSync(path.join(broken, 'assets', f));
    const own = await serveStatic(broken, { mount: '/broken/', csp: CSP });
    const ownBrowser = await launchChromium();
    try {
      const ownWatch = await watchContext(ownBrowser.context, own.origin);
      const page = await openApp(ownBrowser.context, own.url, ownWatch);
      await page.getByTestId('file-input').setInputFiles(filesOf(fixtures['packed-tied']));
      expect(await waitForPhase(page, ['ready', 'invalid'], 60_000)).toBe('invalid');
      const text = (await page.getByTestId('problem').textContent()) ?? '';
      expect(text).toMatch(/conversion worker failed to start/);
      expect(text).toMatch(/What to do:.*Reload the page/);
      await screenshot(page, '15-worker-failed');
      expect(ownWatch.foreign).toEqual([]);
    } finally {
      await ownBrowser.close();
      await own.close();
    }
  });
});
