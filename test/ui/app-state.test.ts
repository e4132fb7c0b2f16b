import { describe, expect, it } from 'vitest';
import { AppState, MAX_LOG_LINES, defaultFormatFor } from '../../src/ui/app-state.svelte.ts';
import type { InputFile, ModelSummary } from '../../src/worker/api.ts';
import { FakeConverter, SUMMARY, settle } from './fake-converter.ts';

const files: InputFile[] = [{ path: 'model/model.safetensors', blob: new Blob([]) }];

/** A model the tab checks on a probe (as the 2B-4T shape is). */
const PROBED: ModelSummary = {
  ...SUMMARY,
  runtimeCheck: { mode: 'probe', reason: 'more than one tab can run next to the reference' },
};

function setup() {
  const converter = new FakeConverter();
  let clock = 0;
  const app = new AppState(converter, () => clock);
  return { converter, app, advance: (ms: number) => (clock += ms) };
}

async function loaded() {
  const s = setup();
  const loading = s.app.load({ label: 'model/', files });
  s.converter.inspections[0].reply.resolve({ ok: true, summary: SUMMARY });
  await loading;
  return s;
}

describe('AppState', () => {
  it('starts idle and asks for a model', () => {
    const { app } = setup();
    expect(app.phase).toBe('idle');
    expect(app.canConvert).toBe(false);
    expect(app.status).toMatch(/Choose a BitNet/);
  });

  it('shows the summary of what was loaded, then allows converting', async () => {
    const { app, converter } = setup();
    const loading = app.load({ label: 'model/', files });
    expect(app.phase).toBe('inspecting');
    expect(app.busy).toBe(true);
    expect(converter.inspections[0].files).toBe(files);
    converter.inspections[0].reply.resolve({ ok: true, summary: SUMMARY });
    await loading;
    expect(app.phase).toBe('ready');
    expect(app.summary).toEqual(SUMMARY);
    expect(app.canConvert).toBe(true);
  });

  it('shows a problem in plain words and does not allow converting', async () => {
    const { app, converter } = setup();
    const loading = app.load({ label: 'x', files });
    const problem = {
      kind: 'input' as const,
      message: 'model.safetensors: missing tensor',
      hint: 'Pick the folder.',
    };
    converter.inspections[0].reply.resolve({ ok: false, problem });
    await loading;
    expect(app.phase).toBe('invalid');
    expect(app.problem).toEqual(problem);
    expect(app.canConvert).toBe(false);
  });

  it('ignores the answer for a model the user has replaced meanwhile', async () => {
    const { app, converter } = setup();
    const first = app.load({ label: 'first', files });
    converter.inspections[0].reply.resolve({ ok: true, summary: SUMMARY });
    // A second pick before the first answer is processed: the first must not win.
    app.model = { label: 'second', files: [] };
    await first;
    expect(app.summary).toBeUndefined();
  });

  it('tracks a conversion from progress events to the result', async () => {
    const { app, converter, advance } = await loaded();
    const converting = app.convert();
    expect(app.phase).toBe('converting');
    const job = converter.conversions[0];
    expect(job.options).toEqual({
      destination: { kind: 'opfs' },
      layout: 'folder',
      formats: [{ weights: 'fp32' }],
      runtimeCheck: true,
      external: 'auto',
    });

    job.progress({ status: 'plan', tensors: 2, bytesTotal: 4e6, files: ['model.onnx'] });
    job.progress({
      status: 'tensor',
      name: 'a',
      index: 0,
      count: 2,
      bytesDone: 0,
      bytesTotal: 4e6,
      tensorDone: 0,
      tensorTotal: 2e6,
    });
    advance(1000);
    job.progress({
      status: 'tensor',
      name: 'a',
      index: 0,
      count: 2,
      bytesDone: 2e6,
      bytesTotal: 4e6,
      tensorDone: 2e6,
      tensorTotal: 2e6,
    });
    expect(app.progress?.fraction).toBe(0.5);
    expect(app.progress?.mbPerSecond).toBeCloseTo(2);
    expect(app.progress?.etaSeconds).toBeCloseTo(1);
    expect(app.status).toBe('Converting… 50%');

    job.progress({ status: 'written', files: [{ name: 'model.onnx', bytes: 4e6 }], seconds: 2 });
    expect(app.status).toMatch(/Validating/);
    job.progress({ status: 'check', name: 'structure', ok: true, message: 'valid' });
    expect(app.status).toMatch(/onnxruntime-web/);
    job.progress({ status: 'log', level: 'verbose', message: 'a [2] float32' });
    expect(app.checks).toEqual([{ name: 'structure', ok: true, message: 'valid' }]);

    job.reply.resolve({
      ok: true,
      summary: {
        files: [{ name: 'model.onnx', bytes: 4e6 }],
        writeSeconds: 2,
        totalSeconds: 3,
        bytesWritten: 4e6,
        destination: 'opfs',
        layout: 'folder',
        formats: [{ weights: 'fp32', embed: 'fp32', blockSize: 128, head: 'exact' }],
        zipName: 'bitnet-onnx',
        kernels: 'wasm-simd',
      },
    });
    await converting;
    expect(app.phase).toBe('done');
    expect(app.result?.files[0].name).toBe('model.onnx');
    expect(app.status).toMatch(/Download the files/);
    expect(app.log.map((l) => l.level)).toContain('verbose');
    expect(app.canConvert).toBe(true);
  });

  it('cancel goes through cancelling to cancelled', async () => {
    const { app, converter } = await loaded();
    const converting = app.convert();
    const cancelling = app.cancel();
    expect(app.phase).toBe('cancelling');
    expect(app.busy).toBe(true);
    await cancelling;
    await converting;
    expect(converter.cancels).toBe(1);
    expect(app.phase).toBe('cancelled');
    expect(app.status).toMatch(/Nothing was kept/);
  });

  it('a failed conversion shows the problem and keeps the summary', async () => {
    const { app, converter } = await loaded();
    const converting = app.convert();
    const problem = {
      kind: 'input' as const,
      message: 'model.safetensors, tensor x: bad code',
      hint: 'Download again.',
    };
    converter.conversions[0].reply.resolve({ ok: false, cancelled: false, problem });
    await converting;
    expect(app.phase).toBe('failed');
    expect(app.problem).toEqual(problem);
    expect(app.summary).toEqual(SUMMARY);
    expect(app.log.at(-1)).toMatchObject({ level: 'error', message: problem.message });
  });

  it('a converter that throws ends as a failure, not a stuck page', async () => {
    const { app, converter } = await loaded();
    converter.convert = () => Promise.reject(new Error('worker crashed'));
    await app.convert();
    expect(app.phase).toBe('failed');
    expect(app.problem?.kind).toBe('internal');
  });

  it('does not start a second job or change the destination while busy', async () => {
    const { app, converter } = await loaded();
    void app.convert();
    await app.convert();
    app.setDestination({ kind: 'folder', handle: {} as FileSystemDirectoryHandle });
    app.setFormat({ weights: 'int2' });
    await settle();
    expect(converter.conversions).toHaveLength(1);
    expect(app.destination.kind).toBe('opfs');
    expect(app.format.weights).toBe('fp32');
  });

  it('preselects 2-bit with the q8 head, the compact choice that fits the tab, for a model checked on a probe', async () => {
    expect(defaultFormatFor(SUMMARY)).toEqual({ weights: 'fp32' });
    expect(defaultFormatFor(PROBED)).toEqual({ weights: 'int2', head: 'q8' });

    const { app, converter } = setup();
    const loading = app.load({ label: 'big/', files });
    converter.inspections[0].reply.resolve({ ok: true, summary: PROBED });
    await loading;
    expect(app.format).toEqual({ weights: 'int2', head: 'q8' });
    void app.convert();
    expect(converter.conversions[0].options).toMatchObject({
      formats: [{ weights: 'int2', head: 'q8' }],
      runtimeCheck: true,
    });
  });

  it('follows the loaded model until the person picks a format, then keeps their pick', async () => {
    const { app, converter } = setup();
    const load = async (summary: ModelSummary) => {
      const loading = app.load({ label: 'm/', files });
      converter.inspections.at(-1)!.reply.resolve({ ok: true, summary });
      await loading;
    };
    await load(PROBED);
    expect(app.format.weights).toBe('int2');
    await load(SUMMARY);
    expect(app.format.weights).toBe('fp32');

    app.setFormat({ weights: 'int8' });
    await load(PROBED);
    expect(app.format.weights).toBe('int8');
    await load(SUMMARY);
    expect(app.format.weights).toBe('int8');
  });

  it('deletes stored outputs and returns to ready', async () => {
    const { app, converter } = await loaded();
    const converting = app.convert();
    converter.conversions[0].reply.resolve({
      ok: true,
      summary: {
        files: [],
        writeSeconds: 1,
        totalSeconds: 1,
        bytesWritten: 0,
        destination: 'opfs',
        layout: 'folder',
        formats: [{ weights: 'fp32', embed: 'fp32', blockSize: 128, head: 'exact' }],
        zipName: 'bitnet-onnx',
        kernels: 'wasm-simd',
      },
    });
    await converting;
    await app.clearStoredOutputs();
    expect(app.phase).toBe('ready');
    expect(app.result).toBeUndefined();
  });

  it('writes a model folder by default; the main format comes first, extras follow in the page’s order', async () => {
    const { app, converter } = await loaded();
    expect(app.layout).toBe('folder');
    expect(app.plan?.files.map((f) => f.name)).toEqual(['onnx/model.onnx']);

    app.setFormat({ weights: 'int2' });
    app.setExtraFormat('fp32', true);
    app.setExtraFormat('int8', true);
    await settle();
    expect(app.formats.map((f) => f.weights)).toEqual(['int2', 'fp32', 'int8']);
    expect(converter.plans.at(-1)).toEqual({
      layout: 'folder',
      formats: [{ weights: 'int2' }, { weights: 'fp32' }, { weights: 'int8' }],
      external: 'auto',
    });
    expect(app.plan?.files.map((f) => f.name)).toEqual([
      'onnx/model_q2.onnx',
      'onnx/model.onnx',
      'onnx/model_int8.onnx',
    ]);

    app.setExtraFormat('fp32', false);
    void app.convert();
    expect(converter.conversions[0].options).toMatchObject({
      layout: 'folder',
      formats: [{ weights: 'int2' }, { weights: 'int8' }],
    });
  });

  it('the single layout writes the main format only, whatever extras were ticked', async () => {
    const { app, converter } = await loaded();
    app.setExtraFormat('int8', true);
    app.setLayout('single');
    await settle();
    expect(app.plan?.files.map((f) => f.name)).toEqual(['model.onnx']);
    void app.convert();
    expect(converter.conversions[0].options).toMatchObject({
      layout: 'single',
      formats: [{ weights: 'fp32' }],
    });
  });

  it('Download all: zipping, then done; the page is busy meanwhile; a failure says why', async () => {
    const { app, converter } = await loaded();
    const converting = app.convert();
    converter.conversions[0].reply.resolve({
      ok: true,
      summary: {
        files: [{ name: 'onnx/model.onnx', bytes: 10 }],
        writeSeconds: 1,
        totalSeconds: 1,
        bytesWritten: 10,
        destination: 'opfs',
        layout: 'folder',
        formats: [{ weights: 'fp32', embed: 'fp32', blockSize: 128, head: 'exact' }],
        zipName: 'model-onnx',
        kernels: 'wasm-simd',
      },
    });
    await converting;
    const zipFile = new File([], 'model-onnx.zip');
    const first = app.downloadAll({ kind: 'opfs' });
    expect(app.zip.state).toBe('zipping');
    expect(app.busy).toBe(true);
    converter.zips[0].reply.resolve({ ok: true, file: zipFile });
    await expect(first).resolves.toBe(zipFile);
    expect(app.zip).toEqual({ state: 'done', where: 'download' });
    expect(app.busy).toBe(false);

    const problem = {
      kind: 'environment' as const,
      message: 'not enough browser storage',
      hint: 'Free space.',
    };
    const second = app.downloadAll({ kind: 'opfs' });
    converter.zips[1].reply.resolve({ ok: false, cancelled: false, problem });
    await expect(second).resolves.toBeUndefined();
    expect(app.zip).toEqual({ state: 'failed', problem });
  });

  it('keeps the log bounded', async () => {
    const { app, converter } = await loaded();
    void app.convert();
    const job = converter.conversions[0];
    for (let i = 0; i < MAX_LOG_LINES + 50; i++)
      job.progress({ status: 'log', level: 'verbose', message: `t${i}` });
    expect(app.log).toHaveLength(MAX_LOG_LINES);
    expect(app.log.at(-1)?.message).toBe(`t${MAX_LOG_LINES + 49}`);
  });
});
