/**
 * The worker's inspect path in Node: Node's Blobs stand in for picked Files (same slicing API), so
 * the summary and the plain-words problems are checked against the repo's generated fixtures.
 */
import { openAsBlob } from 'node:fs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_FIXTURE_NAMES,
  makeBadFixtures,
  makeFixtures,
  type BadFixture,
  type BadFixtureName,
  type FixtureName,
} from '../../scripts/make-fixtures.ts';
import { ConversionError } from '../../src/core/errors.ts';
import type { InputFile } from '../../src/worker/api.ts';
import { ConverterService } from '../../src/worker/converter-service.ts';
import { describeProblem } from '../../src/worker/problems.ts';
import { throttleProgress } from '../../src/worker/throttle.ts';
import type { ProgressEvent } from '../../src/core/convert/progress.ts';

let root: string;
let fixtures: Record<FixtureName, string>;
let bad: Record<BadFixtureName, BadFixture>;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-worker-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
  bad = await makeBadFixtures(path.join(root, 'fixtures'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder as a folder pick delivers it: paths prefixed with the folder's name. */
async function picked(folder: string): Promise<InputFile[]> {
  const name = path.basename(folder);
  return Promise.all(
    readdirSync(folder).map(async (f) => ({
      path: `${name}/${f}`,
      blob: await openAsBlob(path.join(folder, f)),
    })),
  );
}

/** The same Blob, recording the start of every slice read from it. */
function watchSlices(blob: Blob, reads: number[]): Blob {
  return new Proxy(blob, {
    get(target, key) {
      if (key === 'slice') {
        return (start?: number, end?: number) => {
          reads.push(start ?? 0);
          return target.slice(start, end);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('ConverterService.inspect', () => {
  const service = new ConverterService();

  it('summarises a packed checkpoint with what the table shows', async () => {
    const outcome = await service.inspect(await picked(fixtures['packed-tied']));
    if (!outcome.ok) throw new Error(outcome.problem.message);
    const s = outcome.summary;
    expect(s).toMatchObject({
      variant: 'packed-autobitlinear',
      vocabSize: 320,
      hiddenSize: 64,
      numLayers: 2,
      intermediateSize: 160,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 16,
      tiedEmbeddings: true,
      checkpointFiles: ['model.safetensors'],
      runtimeCheck: { mode: 'full' },
    });
    expect(s.tensorCount).toBe(s.usedTensorCount);
    expect(s.outputs.fp32.map((o) => o.name)).toEqual(['model.onnx']);
    expect(s.outputs.int8.map((o) => o.name)).toEqual(['model_int8.onnx']);
    expect(s.outputs.int2.map((o) => o.name)).toEqual(['model_q2.onnx']);
    // Every projection becomes float32: 16× the packed 2-bit bytes, plus embedding and norms.
    expect(s.outputs.fp32[0].bytes).toBeGreaterThan(s.inputBytes * 4);
    expect(s.outputs.int2[0].bytes).toBeLessThan(s.outputs.int8[0].bytes);
  });

  it('plans the chosen output through the engine without reading the headers again', async () => {
    const files = await picked(fixtures['packed-untied']);
    const inspected = await service.inspect(files);
    expect(inspected.ok).toBe(true);
    // Once inspected, planning reads no safetensors header: a model file whose header is gone still plans.
    const reads: number[] = [];
    const watched = files.map((f) =>
      f.path.endsWith('.safetensors') ? { ...f, blob: watchSlices(f.blob, reads) } : f,
    );
    const folder = await service.plan(watched, {
      layout: 'folder',
      formats: [{ weights: 'int2' }, { weights: 'int8' }],
      external: 'auto',
    });
    if (!folder.ok) throw new Error(folder.problem.message);
    expect(folder.plan.files.map((f) => f.name)).toEqual([
      'onnx/model_q2.onnx',
      'onnx/model_int8.onnx',
      'config.json',
      'generation_config.json',
      'genai_config.json',
    ]);
    expect(reads).toEqual([]);
    const single = await service.plan(watched, {
      layout: 'single',
      formats: [{ weights: 'int2', head: 'q8' }],
      external: 'auto',
    });
    if (!single.ok) throw new Error(single.problem.message);
    expect(single.plan.files.map((f) => f.name)).toEqual(['model_q2.onnx', 'config.json']);
    expect(single.plan.formats[0]).toMatchObject({ weights: 'int2', head: 'q8', embed: 'fp16' });
  });

  it('finds shards through their index', async () => {
    const outcome = await service.inspect(await picked(fixtures['packed-sharded']));
    if (!outcome.ok) throw new Error(outcome.problem.message);
    expect(outcome.summary.index).toBe('model.safetensors.index.json');
    expect(outcome.summary.checkpointFiles).toHaveLength(2);
  });

  it('says in plain words when nothing usable was picked', async () => {
    const outcome = await service.inspect([{ path: 'notes.txt', blob: new Blob(['hello']) }]);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.problem.kind).toBe('input');
    expect(outcome.problem.message).toMatch(/not a safetensors checkpoint/);
    expect(outcome.problem.hint).toMatch(/Pick the model’s \.safetensors file/);
  });

  // Faults in the bytes of one tensor show only while converting; the rest must be caught here.
  const caughtByInspect = BAD_FIXTURE_NAMES.filter((n) => n !== 'packed-code-3');
  it.each(caughtByInspect)('%s: names the file and says what to do', async (name) => {
    const outcome = await service.inspect(await picked(bad[name].path));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.problem.kind).toBe('input');
    expect(outcome.problem.message).toContain(bad[name].file);
    if (bad[name].tensor) expect(outcome.problem.message).toContain(bad[name].tensor);
    expect(outcome.problem.message).toMatch(bad[name].problem);
    expect(outcome.problem.hint.length).toBeGreaterThan(10);
  });
});

describe('describeProblem', () => {
  it('marks anything but a ConversionError as a bug, not the user’s fault', () => {
    expect(describeProblem(new TypeError('x is undefined')).kind).toBe('internal');
    expect(describeProblem(new ConversionError('missing tensor', { file: 'm.safetensors' })).kind).toBe(
      'input',
    );
    expect(describeProblem(Object.assign(new Error('quota'), { name: 'QuotaExceededError' })).kind).toBe(
      'environment',
    );
  });
});

describe('throttleProgress', () => {
  const tensor = (done: number): ProgressEvent => ({
    status: 'tensor',
    name: 'w',
    index: 0,
    count: 1,
    bytesDone: done,
    bytesTotal: 100,
    tensorDone: done,
    tensorTotal: 100,
  });

  it('passes tensor events at most once per interval, and always the last of a tensor', () => {
    let t = 0;
    const seen: ProgressEvent[] = [];
    const listener = throttleProgress(
      (e) => seen.push(e),
      100,
      () => t,
    );
    listener(tensor(10));
    t = 50;
    listener(tensor(20));
    listener(tensor(30));
    expect(seen).toHaveLength(1);
    t = 120;
    listener(tensor(40));
    expect(seen.map((e) => (e as { bytesDone: number }).bytesDone)).toEqual([10, 40]);
    t = 130;
    listener(tensor(100));
    expect(seen).toHaveLength(3);
  });

  it('flushes a held tensor event before any other event, keeping order', () => {
    let t = 0;
    const seen: string[] = [];
    const listener = throttleProgress(
      (e) => seen.push(e.status === 'tensor' ? `t${e.bytesDone}` : e.status),
      100,
      () => t,
    );
    listener(tensor(10));
    t = 10;
    listener(tensor(20));
    listener({ status: 'log', level: 'info', message: 'x' });
    listener(tensor(30));
    listener.flush();
    expect(seen).toEqual(['t10', 't20', 'log', 't30']);
  });
});
