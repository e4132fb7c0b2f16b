/**
 * Generation in the built app, in headless Chromium with a real WebGPU adapter (SwiftShader): the
 * sample converted in the tab continues its prompt with the reference forward pass's greedy tokens
 * on both backends; converted fixtures without a tokenizer take and give token ids, for fp32, int8
 * and int2; stop, failure and every panel state are screenshotted at desktop and phone widths.
 * SwiftShader runs WebGPU on the CPU: its speed is not a GPU's, and nothing here measures time.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, type FixtureName } from '../../scripts/make-fixtures.ts';
import { SAMPLE_PROMPT, SAMPLE_SOURCE } from '../../scripts/make-sample.ts';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import type { ReferenceWeights } from '../../src/core/check/reference-input.ts';
import { loadReferenceWeights } from '../../src/core/check/reference-weights.ts';
import { checkPrompt } from '../../src/core/check/runtime-check.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { openNodeInput } from '../../src/platform/node/node-files.ts';
import { greedyPath, type GreedyPath } from '../helpers/greedy-path.ts';
import {
  CSP,
  REPO,
  SCREENSHOTS,
  openApp,
  requireBuiltApp,
  waitForPhase,
  watchContext,
  type Watch,
} from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';
import { serveStatic, type StaticServer } from '../../src/platform/node/static-server.ts';

/** The sample README's greedy continuation of SAMPLE_PROMPT (an independent float64 forward pass). */
const SAMPLE_CONTINUATION = ' INACCURATE OR LOSSES SUSTAINED BY APPLICABLE LAW ';
const FIXTURE: FixtureName = 'packed-untied';
const FIXTURE_TOKENS = 8;
/** As in test/e2e/model-folder.test.ts: paths this clear of ties admit no disagreement. */
const MIN_LOGIT_GAP = 0.05;
const MIN_ROUNDING_MARGIN = 1.5e-4;

const bytes = (text: string) => [...new TextEncoder().encode(text)];

interface Reference {
  dims: BitNetDims;
  weights: ReferenceWeights;
}

async function reference(folder: string): Promise<Reference> {
  const input = await openNodeInput(folder);
  try {
    const { plan } = await inspectModel(input);
    return { dims: plan.dims, weights: await loadReferenceWeights(plan, await loadNodeKernels()) };
  } finally {
    await input.close();
  }
}

let root: string;
let server: StaticServer;
let browser: Browser;
let watch: Watch;
let fixtureDir: string;
let sample: Reference;
let fixture: Reference;
let fixturePath: GreedyPath;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  requireBuiltApp();
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-generate-browser-'));
  fixtureDir = (await makeFixtures(path.join(root, 'fixtures')))[FIXTURE];
  sample = await reference(SAMPLE_SOURCE);
  fixture = await reference(fixtureDir);
  // The first candidate prompt whose greedy path is clear of ties (a random model passes near some).
  for (let seed = 0; seed < 64 && !fixturePath; seed++) {
    const p = greedyPath(
      fixture.dims,
      fixture.weights,
      checkPrompt(fixture.dims.vocabSize, 1, 8, seed),
      FIXTURE_TOKENS,
    );
    if (p.minLogitGap >= MIN_LOGIT_GAP && p.minRoundingMargin >= MIN_ROUNDING_MARGIN) fixturePath = p;
  }
  if (!fixturePath) throw new Error('no fixture prompt clear of ties');
  server = await serveStatic(path.join(REPO, 'dist'), { mount: '/gen/', csp: CSP, record: true });
  browser = await launchChromium({ webgpu: true });
  watch = await watchContext(browser.context, server.origin);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
  if (Object.keys(figures).length > 0) {
    mkdirSync(path.join(REPO, 'test/.out'), { recursive: true });
    writeFileSync(
      path.join(REPO, 'test/.out/generate-figures.json'),
      `${JSON.stringify(figures, null, 2)}\n`,
    );
    console.log('generation figures:', figures);
  }
});

const panel = (page: Page): Locator => page.locator('section', { has: page.getByTestId('generate') });

/** The panel alone at desktop width, then at 390 px (a full phone-width page is too tall to read). */
async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 1100, height: 900 });
  await panel(page).screenshot({ path: path.join(SCREENSHOTS, `gen-${name}.png`) });
  await page.setViewportSize({ width: 390, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `${name}: horizontal overflow at 390 px`).toBeLessThanOrEqual(0);
  await panel(page).screenshot({ path: path.join(SCREENSHOTS, `gen-${name}-narrow.png`) });
  await page.setViewportSize(size);
}

async function modelLoaded(page: Page, backend: 'wasm' | 'webgpu'): Promise<void> {
  await page.waitForSelector(`[data-testid=backend-status][data-backend=${backend}]`);
  await page.waitForSelector(
    '[data-testid=generate-model][data-phase=ready], [data-testid=generate-model][data-phase=failed]',
    {
      timeout: 240_000,
    },
  );
  expect(await page.getByTestId('generate-model').getAttribute('data-phase')).toBe('ready');
}

async function useBackend(page: Page, backend: 'wasm' | 'webgpu'): Promise<void> {
  // The converted model is offered and loaded first (on the default backend), then switched.
  await page.waitForSelector(
    '[data-testid=generate-model][data-phase=ready], [data-testid=generate-model][data-phase=failed]',
    {
      timeout: 240_000,
    },
  );
  if ((await page.getByTestId('backend').inputValue()) !== backend) {
    await page.getByTestId('backend').selectOption(backend);
  }
  await modelLoaded(page, backend);
}

type RunState = 'running' | 'done' | 'stopped' | 'failed';

async function generate(
  page: Page,
  prompt: string,
  maxNewTokens: number,
): Promise<{ state: RunState; ids: number[] }> {
  await page.getByTestId('prompt').fill(prompt);
  await page.getByTestId('max-new-tokens').fill(String(maxNewTokens));
  await page.getByTestId('generate').click();
  return finished(page);
}

async function finished(page: Page): Promise<{ state: RunState; ids: number[] }> {
  const out = page.locator('[data-testid=generation]:not([data-state=running])');
  await out.waitFor({ timeout: 300_000 });
  const ids = (await out.getAttribute('data-token-ids'))!;
  return {
    state: (await out.getAttribute('data-state')) as RunState,
    ids: ids === '' ? [] : ids.split(',').map(Number),
  };
}

async function convertIn(page: Page, format: object, runtimeCheck: boolean): Promise<void> {
  await page.evaluate(
    (f) =>
      (
        globalThis as unknown as { bitnet2onnx: { app: { setFormat(f: unknown): void } } }
      ).bitnet2onnx.app.setFormat(f),
    format,
  );
  const box = page.getByTestId('runtime-check');
  if (runtimeCheck) await box.check();
  else await box.uncheck();
  await page.getByTestId('convert').click();
  expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
}

describe('generation panel (built app, Chromium with WebGPU on SwiftShader)', () => {
  it('offers WebGPU when an adapter is there and waits for a model', async () => {
    const page = await openApp(browser.context, server.url, watch);
    await page.getByTestId('backend-status').waitFor();
    await expect(page.getByTestId('backend').inputValue()).resolves.toBe('webgpu');
    await expect(page.locator('[data-testid=backend] option[value=webgpu]').isDisabled()).resolves.toBe(
      false,
    );
    expect(await page.getByTestId('generate').isDisabled()).toBe(true);
    expect(await page.getByTestId('generation').count()).toBe(0);
    await shoot(page, '01-idle');
    await page.close();
  });

  it(
    'the sample, converted in the tab, continues its prompt with the reference greedy tokens on WASM and WebGPU',
    { timeout: 600_000 },
    async () => {
      const page = await openApp(browser.context, server.url, watch);
      await page.getByTestId('sample').click();
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      await convertIn(page, { weights: 'fp32' }, true);
      await modelLoaded(page, 'webgpu');
      await expect(page.getByTestId('prompt').inputValue()).resolves.toBe(SAMPLE_PROMPT);
      const ref = greedyPath(
        sample.dims,
        sample.weights,
        bytes(SAMPLE_PROMPT),
        bytes(SAMPLE_CONTINUATION).length,
      );
      expect(ref.minLogitGap).toBeGreaterThan(MIN_LOGIT_GAP);

      // WASM: the whole README continuation, as text.
      await useBackend(page, 'wasm');
      const wasm = await generate(page, SAMPLE_PROMPT, ref.tokens.length);
      expect(wasm.state).toBe('done');
      expect(wasm.ids).toEqual(ref.tokens);
      await expect(page.getByTestId('generation').textContent()).resolves.toContain(
        SAMPLE_PROMPT + SAMPLE_CONTINUATION.trimEnd(),
      );
      await expect(page.getByTestId('generation-stats').textContent()).resolves.toMatch(
        new RegExp(`^${ref.tokens.length} tokens · [\\d.]+ tokens/s · first token after`),
      );
      figures.sampleWasm = await page.getByTestId('generation-stats').textContent();
      await shoot(page, '03-done');

      // Stop midway: the tokens so far stay, and they are the reference's first ones.
      await page.getByTestId('max-new-tokens').fill('400');
      await page.getByTestId('generate').click();
      await page.waitForFunction(
        () =>
          (document.querySelector('[data-testid=generation]')?.getAttribute('data-token-ids') ?? '').split(
            ',',
          ).length >= 6,
        undefined,
        { timeout: 120_000, polling: 20 },
      );
      await shoot(page, '02-running');
      await page.getByTestId('stop-generation').click();
      const stopped = await finished(page);
      // Stopped between steps by the worker itself: the model stays loaded.
      await expect(page.getByTestId('generate-model').getAttribute('data-phase')).resolves.toBe('ready');
      expect(stopped.state).toBe('stopped');
      expect(stopped.ids.length).toBeGreaterThanOrEqual(6);
      figures.stoppedAfterTokens = stopped.ids.length;
      expect(stopped.ids.length).toBeLessThan(400);
      const refLong = greedyPath(sample.dims, sample.weights, bytes(SAMPLE_PROMPT), stopped.ids.length);
      const clear = refLong.gaps.findIndex((g) => g <= MIN_LOGIT_GAP);
      const compared = clear === -1 ? stopped.ids.length : clear;
      expect(stopped.ids.slice(0, compared)).toEqual(refLong.tokens.slice(0, compared));
      await expect(page.getByTestId('generation-stats').textContent()).resolves.toMatch(/stopped/);
      await shoot(page, '04-stopped');

      // WebGPU: the same greedy tokens (fewer of them: SwiftShader is slow).
      await useBackend(page, 'webgpu');
      figures.sampleWebGpuCpuNodes = (await page.getByTestId('cpu-fallback').count())
        ? await page.getByTestId('cpu-fallback').textContent()
        : 'none';
      const gpu = await generate(page, SAMPLE_PROMPT, 12);
      expect(gpu.state).toBe('done');
      expect(gpu.ids).toEqual(ref.tokens.slice(0, 12));
      figures.sampleWebGpu = await page.getByTestId('generation-stats').textContent();
      await shoot(page, '05-done-webgpu');
      await page.close();
    },
  );

  const FORMATS = [
    ['fp32', { weights: 'fp32' }],
    ['int8', { weights: 'int8', embed: 'fp32' }],
    ['int2', { weights: 'int2', embed: 'fp32' }],
  ] as const;

  it.each(FORMATS)(
    '%s fixture without a tokenizer: token ids in, the reference greedy ids out, on WASM and WebGPU',
    { timeout: 600_000 },
    async (name, format) => {
      const page = await openApp(browser.context, server.url, watch);
      await page
        .getByTestId('file-input')
        .setInputFiles(readdirSync(fixtureDir).map((f) => path.join(fixtureDir, f)));
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      await convertIn(page, format, false);
      const prompt = fixturePath.prompt.join(',');
      for (const backend of ['wasm', 'webgpu'] as const) {
        await useBackend(page, backend);
        if (backend === 'webgpu') {
          figures[`${name}WebGpuCpuNodes`] = (await page.getByTestId('cpu-fallback').count())
            ? await page.getByTestId('cpu-fallback').textContent()
            : 'none';
        }
        const run = await generate(page, prompt, FIXTURE_TOKENS);
        expect(run.state, `${name} on ${backend}`).toBe('done');
        expect(run.ids, `${name} on ${backend}`).toEqual(fixturePath.tokens);
        await expect(page.getByTestId('generation').textContent()).resolves.toContain(
          fixturePath.tokens.join(', '),
        );
      }
      if (name === 'fp32') await shoot(page, '06-ids-mode');
      await page.close();
    },
  );

  it(
    'a model WebGPU cannot run here fails with the reason and what to do; a bad id is refused',
    { timeout: 600_000 },
    async () => {
      const page = await openApp(browser.context, server.url, watch);
      await page
        .getByTestId('file-input')
        .setInputFiles(readdirSync(fixtureDir).map((f) => path.join(fixtureDir, f)));
      expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
      // int8 with its default float16 embedding: SwiftShader's WebGPU has no shader-f16.
      await convertIn(page, { weights: 'int8' }, false);
      await useBackend(page, 'webgpu');
      const run = await generate(page, fixturePath.prompt.join(','), FIXTURE_TOKENS);
      const problem = page.locator('section', { has: page.getByTestId('generate') }).getByTestId('problem');
      if (run.state === 'failed') {
        await expect(problem.textContent()).resolves.toMatch(/f16|float16/);
        figures.int8Fp16EmbedOnWebGpu = await problem.textContent();
        await shoot(page, '07-failed');
      } else {
        // An adapter with shader-f16 runs it: then it must be right.
        expect(run.ids).toEqual(fixturePath.tokens);
        figures.int8Fp16EmbedOnWebGpu = 'ran (adapter has shader-f16)';
      }
      await useBackend(page, 'wasm');
      const bad = await generate(page, `1,${fixture.dims.vocabSize}`, 4);
      expect(bad.state).toBe('failed');
      await expect(problem.textContent()).resolves.toMatch(
        new RegExp(`token id ${fixture.dims.vocabSize} is outside the vocabulary`),
      );
      if (run.state !== 'failed') await shoot(page, '07-failed');
      await page.close();
    },
  );

  it('made no request outside its own origin and broke no CSP rule', () => {
    expect(watch.foreign).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(server.cspReports).toEqual([]);
    // The one error onnxruntime logs is the float16 failure provoked above on purpose.
    expect(watch.errors.filter((e) => !/requires f16 but the device does not support it/.test(e))).toEqual(
      [],
    );
  });
});
