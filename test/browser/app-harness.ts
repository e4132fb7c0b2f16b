/**
 * Drives the built app in Chromium: opens pages with every error, CSP report and foreign request
 * collected, waits for phases, and saves screenshots under test/.out/screenshots.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { pageCsp } from '../../src/platform/node/static-server.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = path.join(REPO, 'dist');
export const SCREENSHOTS = path.join(REPO, 'test/.out/screenshots');
/** The Content-Security-Policy the page declares (index.html), served as a header as `bitnet2onnx app` does. */
export const CSP = pageCsp(readFileSync(path.join(REPO, 'index.html'), 'utf8'))!;

export function requireBuiltApp(): void {
  if (
    !existsSync(path.join(DIST, 'index.html')) ||
    !existsSync(path.join(DIST, 'sample/model.safetensors'))
  ) {
    throw new Error(
      'dist/ is missing or has no sample: run `npm run build` (npm test does) before these tests',
    );
  }
}

/** What a page did that a test may want to assert on. */
export interface Watch {
  /** Every URL the context requested (pages, workers, service worker). */
  requests: string[];
  /** Requests to anything but the app's origin (they are also blocked). */
  foreign: string[];
  errors: string[];
  cspViolations: string[];
}

/** Records every request; blocks and records any that leaves the app's origin. */
export async function watchContext(context: BrowserContext, origin: string): Promise<Watch> {
  const watch: Watch = { requests: [], foreign: [], errors: [], cspViolations: [] };
  const isLocal = (url: string) => url.startsWith(`${origin}/`) || /^(blob|data):/.test(url);
  context.on('request', (r) => {
    watch.requests.push(r.url());
    if (!isLocal(r.url())) watch.foreign.push(r.url());
  });
  await context.route(
    (url) => !isLocal(url.href),
    (route) => {
      watch.foreign.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  return watch;
}

export async function openApp(context: BrowserContext, url: string, watch: Watch): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => watch.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content.Security.Policy/i.test(text)) watch.cspViolations.push(text);
    else if (m.type() === 'error') watch.errors.push(`console: ${text}`);
  });
  await page.goto(url);
  await page.getByRole('heading', { name: 'bitnet2onnx' }).waitFor();
  return page;
}

export type Phase =
  'idle' | 'inspecting' | 'ready' | 'invalid' | 'converting' | 'cancelling' | 'done' | 'failed' | 'cancelled';

export async function waitForPhase(page: Page, phases: Phase[], timeout = 120_000): Promise<Phase> {
  const selector = phases.map((p) => `[data-testid=status][data-phase=${p}]`).join(', ');
  await page.waitForSelector(selector, { timeout });
  return (await page.getByTestId('status').getAttribute('data-phase')) as Phase;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Everything in OPFS, through the worker (the same code the app uses). */
export function listStorage(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    (
      globalThis as unknown as { bitnet2onnx: { bridge: { listStorage(): Promise<string[]> } } }
    ).bitnet2onnx.bridge.listStorage(),
  );
}

export function clearStorage(page: Page): Promise<void> {
  return page.evaluate(() =>
    (
      globalThis as unknown as { bitnet2onnx: { bridge: { clearOutputs(): Promise<void> } } }
    ).bitnet2onnx.bridge.clearOutputs(),
  );
}

/** The result the page holds after a conversion (sizes, timings, check report). */
export function conversionResult(page: Page): Promise<{
  files: { name: string; bytes: number }[];
  writeSeconds: number;
  totalSeconds: number;
  bytesWritten: number;
  kernels: string;
  runtime?: { passed: boolean; full: { maxAbsDiff: number; argmaxAgree: number; positions: number } };
}> {
  return page.evaluate(() => {
    const app = (globalThis as unknown as { bitnet2onnx: { app: { result: unknown } } }).bitnet2onnx.app;
    return JSON.parse(JSON.stringify(app.result));
  });
}
