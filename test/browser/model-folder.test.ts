/**
 * The tab writes what the CLI's `--output-dir` writes (issue 9, item 1), in headless Chromium against
 * the built app: a checkpoint folder converted to int2+int8 as a model folder in browser storage (OPFS)
 * holds exactly the CLI's files, byte for byte; "Download all" streams them as one zip, which Python's
 * zipfile (a real unzip) extracts into the same tree; the single layout still gives the lone `.onnx` of
 * `--output`. Byte equality with the CLI folder also carries over what test/e2e/model-folder.test.ts
 * proves of that folder (transformers.js loads it and generates the reference's greedy tokens).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures } from '../../scripts/make-fixtures.ts';
import { writeByteTokenizer } from '../../scripts/make-byte-tokenizer.ts';
import { serveStatic, type StaticServer } from '../../src/platform/node/static-server.ts';
import { runCli } from '../helpers/cli.ts';
import {
  CSP,
  DIST,
  SCREENSHOTS,
  clearStorage,
  listStorage,
  openApp,
  requireBuiltApp,
  waitForPhase,
  watchContext,
  type Watch,
} from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';

/** The picked folder's name: the zip and its top folder are named after it. */
const MODEL = 'tiny-bitnet';

let root: string;
let input: string;
let cliFolder: string;
let server: StaticServer;
let browser: Browser;
let watch: Watch;

beforeAll(async () => {
  requireBuiltApp();
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-folder-browser-'));
  const fixtures = await makeFixtures(path.join(root, 'fixtures'));
  // The untied fixture with a tokenizer beside it, so copying through is part of what is compared.
  input = path.join(root, MODEL);
  cpSync(fixtures['packed-untied'], input, { recursive: true });
  await writeByteTokenizer(input, 320);
  cliFolder = path.join(root, 'cli-folder');
  const run = runCli(['-i', input, '--output-dir', cliFolder, '--format', 'int2,int8']);
  expect(run.status, run.stderr).toBe(0);
  server = await serveStatic(DIST, { mount: '/folder/', csp: CSP, record: true });
  browser = await launchChromium({ downloads: path.join(root, 'downloads') });
  // "Download all" asks where to save where the browser has a save picker; headless cannot answer it,
  // so the page takes its other path (zip in browser storage, then a download), which a test can catch.
  await browser.context.addInitScript(() => {
    delete (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker;
  });
  watch = await watchContext(browser.context, server.origin);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Every file under dir, relative, `/`-separated, sorted. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? tree(path.join(dir, e.name), `${prefix}${e.name}/`) : [prefix + e.name],
    )
    .sort();
}

/** Asserts `dir` holds exactly the CLI folder's files, each byte for byte. */
function expectSameAsCli(files: Map<string, Buffer>): void {
  const expected = tree(cliFolder);
  expect([...files.keys()].sort()).toEqual(expected);
  for (const name of expected) {
    expect(files.get(name)!.equals(readFileSync(path.join(cliFolder, name))), `${name} differs`).toBe(true);
  }
}

/** The latest run's files in OPFS, read through the page (small fixtures: base64 is fine). */
async function opfsRun(page: Page): Promise<Map<string, Buffer>> {
  const paths = (await listStorage(page)).filter((p) => /^outputs\/run-[^/]+\//.test(p) && !p.endsWith('/'));
  const read = await page.evaluate(async (names: string[]) => {
    const out: [string, string][] = [];
    for (const name of names) {
      const parts = name.split('/');
      let dir = await navigator.storage.getDirectory();
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
      const file = await (await dir.getFileHandle(parts.at(-1)!)).getFile();
      const bytes = new Uint8Array(await file.arrayBuffer());
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000)
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.push([name, btoa(text)]);
    }
    return out;
  }, paths);
  return new Map(
    read.map(([name, b64]) => [name.replace(/^outputs\/run-[^/]+\//, ''), Buffer.from(b64, 'base64')]),
  );
}

async function pickInput(page: Page): Promise<void> {
  await page.getByTestId('folder-input').setInputFiles(input);
  expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
}

async function shot(page: Page, testId: string, name: string): Promise<void> {
  const section = page.locator('section', { has: page.getByTestId(testId) });
  for (const [width, suffix] of [
    [1280, ''],
    [390, '-narrow'],
  ] as const) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${name}: horizontal overflow at ${width} px`).toBeLessThanOrEqual(0);
    await section.screenshot({ path: path.join(SCREENSHOTS, `${name}${suffix}.png`) });
  }
  await page.setViewportSize({ width: 1100, height: 900 });
}

describe('the model folder in the tab (built app, Chromium)', () => {
  it('int2+int8 as a model folder in browser storage: the same files as --output-dir, byte for byte; Download all zips them', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await clearStorage(page);
    await pickInput(page);
    expect(await page.getByTestId('layout-folder').isChecked()).toBe(true);
    await page.getByTestId('format-int2').check();
    await page.getByTestId('also-int8').check();
    // The engine's plan, shown before converting: the CLI folder's files.
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=planned-files] li').length === 7,
      undefined,
      { timeout: 30_000 },
    );
    const planned = await page.locator('[data-testid=planned-files] li code').allTextContents();
    expect([...planned].sort()).toEqual(tree(cliFolder));
    await shot(page, 'layout-folder', 'folder-01-layout-controls');
    await shot(page, 'planned-files', 'folder-00-will-be-written');

    await page.getByTestId('runtime-check').check();
    await page.getByTestId('convert').click();
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    // Each model was checked: structure and onnxruntime-web, int2 and int8.
    for (const file of ['onnx/model_q2.onnx', 'onnx/model_int8.onnx']) {
      for (const check of ['structure', 'runtime']) {
        await expect(
          page.locator(`[data-check=${check}][data-file="${file}"]`).getAttribute('data-ok'),
        ).resolves.toBe('true');
      }
    }
    expectSameAsCli(await opfsRun(page));
    await shot(page, 'checks', 'folder-02a-checks');
    await shot(page, 'download-all', 'folder-02-download-all-ready');

    // Download all: one zip, streamed, caught as the browser's download and unzipped by Python.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('download-all').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${MODEL}-onnx.zip`);
    const zip = path.join(root, 'all.zip');
    await download.saveAs(zip);
    await page.waitForSelector('[data-testid=download-all-panel][data-state=done]');
    const listing = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.compress_type, i.filename)',
        zip,
      ],
      { encoding: 'utf8' },
    );
    expect(listing.status, listing.stderr).toBe(0);
    const entries = listing.stdout.trim().split('\n');
    // Stored, not compressed, every file inside one folder named after the model.
    expect(entries.every((l) => l.startsWith(`0 ${MODEL}-onnx/`))).toBe(true);
    const extracted = path.join(root, 'unzipped');
    const unzip = spawnSync('/usr/bin/python3', ['-m', 'zipfile', '-e', zip, extracted], {
      encoding: 'utf8',
    });
    expect(unzip.status, unzip.stderr).toBe(0);
    const top = path.join(extracted, `${MODEL}-onnx`);
    expectSameAsCli(new Map(tree(top).map((name) => [name, readFileSync(path.join(top, name))])));
    await shot(page, 'download-all', 'folder-03-download-all-done');

    // The zip lives beside the run in browser storage and goes with it.
    expect(await listStorage(page)).toContain(`outputs/${MODEL}-onnx.zip`);
    await page.getByTestId('clear-outputs').click();
    expect(await waitForPhase(page, ['ready'])).toBe('ready');
    expect(await listStorage(page)).toEqual([]);
    expect(watch.errors).toEqual([]);
    expect(watch.foreign).toEqual([]);
    await page.close();
  });

  it('the single layout still writes the lone .onnx of --output, byte for byte', async () => {
    const cliFile = path.join(root, 'cli-single', 'model_q2.onnx');
    const run = runCli(['-i', input, '-o', cliFile, '--format', 'int2', '--no-check']);
    expect(run.status, run.stderr).toBe(0);
    const page = await openApp(browser.context, server.url, watch);
    await clearStorage(page);
    await pickInput(page);
    await page.getByTestId('layout-single').check();
    await page.getByTestId('format-int2').check();
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid=planned-files] li code')].some(
        (e) => e.textContent === 'model_q2.onnx',
      ),
    );
    await shot(page, 'layout-folder', 'folder-04-layout-single');
    await page.getByTestId('runtime-check').uncheck();
    await page.getByTestId('convert').click();
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    const files = await opfsRun(page);
    // The model, and the input's config and tokenizer beside it (unchanged), as before this layout had a name.
    expect([...files.keys()].sort()).toEqual([
      'config.json',
      'model_q2.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(files.get('model_q2.onnx')!.equals(readFileSync(cliFile))).toBe(true);
    expect(files.get('config.json')!.equals(readFileSync(path.join(input, 'config.json')))).toBe(true);
    await page.close();
  });

  it('a cancel after the first model of a folder leaves nothing in the picked folder: no file, no staging', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await pickInput(page);
    await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getDirectoryHandle('picked-for-cancel', { create: true });
      const { app } = (
        globalThis as unknown as { bitnet2onnx: { app: { setDestination(d: unknown): void } } }
      ).bitnet2onnx;
      app.setDestination({ kind: 'folder', handle });
    });
    await page.getByTestId('format-int2').check();
    await page.getByTestId('also-int8').check();
    await page.getByTestId('runtime-check').check();
    await page.getByTestId('convert').click();
    // The first model is written and valid (staged); its onnxruntime check or the second model is under way.
    await page.waitForSelector('[data-check=structure][data-file="onnx/model_q2.onnx"]', { timeout: 60_000 });
    await page.getByTestId('cancel').click();
    expect(await waitForPhase(page, ['cancelled', 'done', 'failed'], 60_000)).toBe('cancelled');
    const left = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-for-cancel');
      const names: string[] = [];
      for await (const [name] of (
        dir as unknown as { entries(): AsyncIterable<[string, unknown]> }
      ).entries())
        names.push(name);
      return names;
    });
    expect(left).toEqual([]);
    // Nor in browser storage, where the check's probe would be staged.
    expect((await listStorage(page)).filter((p) => p.includes('.bitnet2onnx-partial-'))).toEqual([]);
    await page.evaluate(async () =>
      (await navigator.storage.getDirectory()).removeEntry('picked-for-cancel', { recursive: true }),
    );
    await page.close();
  });

  it('Download all where the browser has a save dialog: the zip streams straight into the chosen file', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await clearStorage(page);
    await pickInput(page);
    await page.getByTestId('format-int2').check();
    await page.getByTestId('also-int8').check();
    await page.getByTestId('runtime-check').uncheck();
    // The save dialog cannot be answered headless: it answers with a file in browser storage, the same
    // FileSystemFileHandle API a real pick gives the page.
    await page.evaluate(() => {
      (globalThis as { showSaveFilePicker?: unknown }).showSaveFilePicker = async (o: {
        suggestedName: string;
      }) =>
        (await navigator.storage.getDirectory()).getFileHandle(`chosen-${o.suggestedName}`, { create: true });
    });
    await page.getByTestId('convert').click();
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    await page.getByTestId('download-all').click();
    await page.waitForSelector('[data-testid=download-all-panel][data-state=done]');
    await expect(page.getByTestId('download-all-panel').textContent()).resolves.toMatch(
      new RegExp(`Saved ${MODEL}-onnx\\.zip`),
    );
    const b64 = await page.evaluate(async (name) => {
      const file = await (await (await navigator.storage.getDirectory()).getFileHandle(name)).getFile();
      const bytes = new Uint8Array(await file.arrayBuffer());
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000)
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(text);
    }, `chosen-${MODEL}-onnx.zip`);
    const zip = path.join(root, 'chosen.zip');
    writeFileSync(zip, Buffer.from(b64, 'base64'));
    const extracted = path.join(root, 'chosen');
    const unzip = spawnSync('/usr/bin/python3', ['-m', 'zipfile', '-e', zip, extracted], {
      encoding: 'utf8',
    });
    expect(unzip.status, unzip.stderr).toBe(0);
    const top = path.join(extracted, `${MODEL}-onnx`);
    expectSameAsCli(new Map(tree(top).map((name) => [name, readFileSync(path.join(top, name))])));
    // No copy of the zip was made in browser storage on this path.
    expect((await listStorage(page)).filter((p) => p.startsWith('outputs/') && p.endsWith('.zip'))).toEqual(
      [],
    );
    await page.evaluate(
      async (name) => (await navigator.storage.getDirectory()).removeEntry(name),
      `chosen-${MODEL}-onnx.zip`,
    );
    await page.close();
  });
});
