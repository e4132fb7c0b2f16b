/**
 * The generation panel refuses, before loading, a model its memory estimate says cannot fit the
 * backend, and says what, why and what to do. A real 2B model is far too large for CI, so the page gets
 * a small WASM heap limit through its test hook (`?wasm-heap-limit=`), and a fixture converted by the
 * CLI into a model folder (int2 and int8, so the panel offers the other file) stands in for it.
 * Screenshots of the refusal at 1280 and 390 px go to test/.out/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures } from '../../scripts/make-fixtures.ts';
import { serveStatic, type StaticServer } from '../../src/platform/node/static-server.ts';
import { runCli } from '../helpers/cli.ts';
import { CSP, REPO, SCREENSHOTS, openApp, requireBuiltApp, watchContext, type Watch } from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';

/** Far below what even the fixture needs (its estimate is a few MiB with the nominal KV cache). */
const LIMIT = 1_000_000;

let root: string;
let folder: string;
let server: StaticServer;
let browser: Browser;
let watch: Watch;

beforeAll(async () => {
  requireBuiltApp();
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-refusal-'));
  const fixture = (await makeFixtures(path.join(root, 'fixtures')))['packed-untied'];
  folder = path.join(root, 'converted');
  const run = runCli(['--input', fixture, '--output-dir', folder, '--format', 'int2,int8', '--no-check']);
  expect(run.status, run.stderr).toBe(0);
  server = await serveStatic(path.join(REPO, 'dist'), { csp: CSP, record: true });
  browser = await launchChromium();
  watch = await watchContext(browser.context, server.origin);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function openModel(page: Page): Promise<string> {
  await page.getByTestId('backend-status').waitFor();
  await page.getByTestId('open-converted').setInputFiles(folder);
  await page.waitForSelector(
    '[data-testid=generate-model][data-phase=ready], [data-testid=generate-model][data-phase=failed]',
    { timeout: 120_000 },
  );
  return (await page.getByTestId('generate-model').getAttribute('data-phase'))!;
}

const panel = (page: Page) => page.locator('section', { has: page.getByTestId('generate') });

describe('the generation panel and its memory estimate (built app, Chromium)', () => {
  it('refuses a model whose estimate exceeds the WASM heap limit, before loading, and says why', async () => {
    const page = await openApp(browser.context, `${server.url}?wasm-heap-limit=${LIMIT}`, watch);
    expect(await openModel(page)).toBe('failed');
    const refusal = page.getByTestId('memory-refusal');
    await refusal.waitFor();
    const text = (await refusal.textContent())!;
    expect(text).toMatch(/Not started: this model does not fit in the memory the WASM backend may use/);
    const refused = text.match(
      /(onnx\/model_(?:q2|int8)\.onnx) cannot run on WASM in this browser: it needs about [\d.]+ \w+ of WebAssembly memory/,
    )?.[1];
    expect(refused, text).toBeDefined();
    expect(text).toMatch(/of weights/);
    expect(text).toMatch(/What to do:.*(int2|WebGPU)/);
    expect(Number(await refusal.getAttribute('data-need-bytes'))).toBeGreaterThan(LIMIT);
    // Nothing can start: the button is disabled and no run was made.
    await page.getByTestId('prompt').fill('1,2,3');
    expect(await page.getByTestId('generate').isDisabled()).toBe(true);
    expect(await page.getByTestId('generation').count()).toBe(0);
    // The folder's other model is offered; it is refused for the same reason.
    const files = page.getByTestId('generate-model-file');
    const offered = await files.locator('option').allTextContents();
    expect([...offered].sort()).toEqual(['onnx/model_int8.onnx', 'onnx/model_q2.onnx']);
    expect(await files.inputValue()).toBe(refused);

    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `horizontal overflow at ${width} px`).toBeLessThanOrEqual(0);
      await panel(page).screenshot({ path: path.join(SCREENSHOTS, `gen-08-memory-refusal-${width}.png`) });
    }

    const other = offered.find((f) => f !== refused)!;
    await files.selectOption(other);
    await page
      .getByTestId('memory-refusal')
      .filter({ hasText: `${other} cannot run on WASM` })
      .waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('generate').isDisabled()).toBe(true);
    await page.close();
  });

  it('loads the same model without the limit, shows its estimate and generates', async () => {
    const page = await openApp(browser.context, server.url, watch);
    expect(await openModel(page)).toBe('ready');
    await expect(page.getByTestId('memory-estimate').textContent()).resolves.toMatch(
      /^needs about [\d.]+ \w+ of the 3\.75 GiB of WebAssembly memory it may use$/,
    );
    expect(await page.getByTestId('memory-refusal').count()).toBe(0);
    await page.getByTestId('prompt').fill('1,2,3');
    await page.getByTestId('max-new-tokens').fill('3');
    await page.getByTestId('generate').click();
    const out = page.locator('[data-testid=generation]:not([data-state=running])');
    await out.waitFor({ timeout: 120_000 });
    expect(await out.getAttribute('data-state')).toBe('done');
    expect((await out.getAttribute('data-token-ids'))!.split(',')).toHaveLength(3);
    await page.close();
  });

  it('made no request outside its own origin and logged no error', () => {
    expect(watch.foreign).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.errors).toEqual([]);
  });
});
