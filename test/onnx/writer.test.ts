import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { float32Tensor } from '../../src/core/check/decoder-session.ts';
import { ConversionAborted, ConversionError } from '../../src/core/errors.ts';
import { GraphBuilder, type WeightSpec } from '../../src/core/onnx/graph.ts';
import { planLayout, type Layout, type LayoutOptions } from '../../src/core/onnx/layout.ts';
import { decodePlain, ModelProto, type OnnxModel, type OnnxTensor } from '../../src/core/onnx/schema.ts';
import { validateModel, type ValidationResult } from '../../src/core/onnx/validate.ts';
import { planModelFiles, writeModel, type WriteModelOptions } from '../../src/core/onnx/writer.ts';
import { createNodeOutputTarget, type NodeOutputTarget } from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';
import { runOfficialChecker } from '../helpers/onnx-checker.ts';
import { freshDir, MemoryTarget, memoryOpener, SparseTarget } from './targets.ts';
import { buildSampleModel, HIDDEN, IN, OUT, sampleInput, sampleReference } from './sample-model.ts';

const META = { producerName: 'bitnet2onnx-test', producerVersion: '0.0.0' };

/** A staged target writing into a fresh folder under test/.out/onnx. */
async function diskTarget(dir: string): Promise<{ dir: string; target: NodeOutputTarget }> {
  const folder = await freshDir(dir);
  return { dir: folder, target: createNodeOutputTarget(path.join(folder, 'model.onnx')) };
}

/** Validates through the target (before commit, as the converter does), then commits. */
async function validateAndCommit(target: NodeOutputTarget, modelFile: string): Promise<ValidationResult> {
  const validation = await validateModel((name) => target.open(name), modelFile);
  await target.commit();
  return validation;
}

/** Builds the sample model afresh and writes it into `dir` (under test/.out/onnx). */
async function writeSample(
  dir: string,
  layoutOpts: Omit<LayoutOptions, 'modelFile'>,
  modelFile = 'model.onnx',
) {
  const sample = buildSampleModel();
  const layout = planLayout(sample.graph.weights, { modelFile, ...layoutOpts });
  const { dir: folder, target } = await diskTarget(dir);
  const result = await writeModel({
    graph: sample.graph,
    layout,
    target,
    fill: sample.fill,
    ...META,
    docString: 'sample for the writer tests',
    metadata: { source: 'sample', 'transformers.js_config': '{}' },
  });
  const validation = await validateAndCommit(target, modelFile);
  return { ...result, validation, dir: folder, layout, sample, modelPath: path.join(folder, modelFile) };
}

async function readDirFile(dir: string, name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path.join(dir, name)));
}

async function expectRunsLikeReference(modelPath: string): Promise<void> {
  const batch = 3;
  const x = sampleInput(batch);
  const session = await openNodeSession(modelPath, { threads: 1 });
  const out = await session.run({ x: float32Tensor([batch, IN], x) }).finally(() => session.release());
  const ref = sampleReference(x, batch);
  expect(out.y.dims).toEqual([batch, 4, 4]);
  expect(out.m.dims).toEqual([batch, 1]);
  Array.from(out.y.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref.y[i], 4));
  Array.from(out.m.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(ref.m[i], 4));
}

async function expectIdenticalFiles(dirA: string, dirB: string, names: string[]): Promise<void> {
  for (const name of names) {
    expect(Buffer.compare(await readDirFile(dirA, name), await readDirFile(dirB, name)), name).toBe(0);
  }
}

describe('writeModel, inline', () => {
  it('writes one .onnx that validates, passes the official checker, runs, and is reproducible', async () => {
    const a = await writeSample('inline-a', { external: 'never' });
    expect(a.files).toEqual([{ name: 'model.onnx', bytes: expect.any(Number) }]);
    expect(a.sample.fillOrder).toEqual(['W1', 'b1', 'W2']);

    const v = a.validation;
    expect(v.problems).toEqual([]);
    expect(v.stats.inlineDataBytes).toBe(IN * HIDDEN * 4 + HIDDEN * 4 + HIDDEN * OUT * 2 + 8 * 3 + 4);
    expect(v.stats.fileBytes).toBe(a.files[0].bytes);

    const checker = runOfficialChecker(a.modelPath);
    expect(checker.output).toMatch(/^ok/);
    expect(checker.ok).toBe(true);

    await expectRunsLikeReference(a.modelPath);

    const b = await writeSample('inline-b', { external: 'never' });
    await expectIdenticalFiles(a.dir, b.dir, ['model.onnx']);
  });

  it('decodes with the schema into exactly the fields that were built', async () => {
    const { dir, sample } = await writeSample('inline-decode', { external: 'never' });
    const model = decodePlain<OnnxModel>(ModelProto, await readDirFile(dir, 'model.onnx'));
    expect(model.ir_version).toBe(8);
    expect(model.producer_name).toBe('bitnet2onnx-test');
    expect(model.producer_version).toBe('0.0.0');
    expect(model.doc_string).toBe('sample for the writer tests');
    expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(model.metadata_props).toEqual([
      { key: 'source', value: 'sample' },
      { key: 'transformers.js_config', value: '{}' },
    ]);
    const graph = model.graph!;
    expect(graph.name).toBe('sample');
    expect(graph.node!.map((n) => n.op_type)).toEqual([
      'MatMul',
      'Add',
      'Relu',
      'Cast',
      'MatMul',
      'Reshape',
      'Mul',
      'ReduceMean',
    ]);
    expect(graph.node![3].attribute).toEqual([{ name: 'to', type: 2, i: 1 }]);
    expect(graph.node![7].attribute).toEqual([
      { name: 'axes', type: 7, ints: [1] },
      { name: 'keepdims', type: 2, i: 1 },
    ]);
    expect(graph.input).toEqual([
      {
        name: 'x',
        type: {
          tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch_size' }, { dim_value: IN }] } },
        },
      },
    ]);
    expect(graph.output!.map((o) => o.name)).toEqual(['y', 'm']);
    const inits = new Map(graph.initializer!.map((t) => [t.name!, t]));
    expect([...inits.keys()]).toEqual(['const_0', 'const_1', 'W1', 'b1', 'W2']); // constants, then weights
    expect(inits.get('const_0')).toMatchObject({ dims: [3], data_type: 7 });
    expect(Array.from(new BigInt64Array(copyOf(inits.get('const_0')!.raw_data!).buffer))).toEqual([
      0n,
      4n,
      4n,
    ]);
    for (const name of ['W1', 'b1', 'W2']) {
      const t = inits.get(name)!;
      const spec = sample.graph.weights.find((w) => w.name === name)!;
      expect(t.dims).toEqual(spec.dims);
      expect(t.data_location).toBeUndefined();
      expect(Buffer.compare(Buffer.from(t.raw_data!), Buffer.from(sample.data.get(name)!))).toBe(0);
    }
  });
});

describe('writeModel, external', () => {
  it('pads tensors to 4 KiB inside one data file and keeps small weights inline', async () => {
    const a = await writeSample('external-one-a', { external: 'always' }, 'onnx/model.onnx');
    expect(a.files).toEqual([
      { name: 'onnx/model.onnx_data', bytes: 12288 + HIDDEN * OUT * 2 },
      { name: 'onnx/model.onnx', bytes: expect.any(Number) },
    ]);
    expect(a.sample.fillOrder).toEqual(['W1', 'b1', 'W2']);
    const data = await readDirFile(a.dir, 'onnx/model.onnx_data');
    expect(Buffer.compare(data.subarray(0, IN * HIDDEN * 4), a.sample.data.get('W1')!)).toBe(0);
    expect(data.subarray(IN * HIDDEN * 4, 12288).every((b) => b === 0)).toBe(true);
    expect(Buffer.compare(data.subarray(12288), a.sample.data.get('W2')!)).toBe(0);

    const model = decodePlain<OnnxModel>(ModelProto, await readDirFile(a.dir, 'onnx/model.onnx'));
    const inits = new Map(model.graph!.initializer!.map((t) => [t.name!, t]));
    expect(externalEntries(inits.get('W2')!)).toEqual({
      location: 'model.onnx_data',
      offset: '12288',
      length: '1280',
    });
    expect(inits.get('W2')!.data_location).toBe(1);
    expect(inits.get('b1')!.raw_data!.length).toBe(HIDDEN * 4);

    const v = a.validation;
    expect(v.problems).toEqual([]);
    expect(v.stats.externalFiles).toEqual([{ name: 'onnx/model.onnx_data', bytes: 12288 + 1280 }]);
    expect(runOfficialChecker(a.modelPath)).toMatchObject({ ok: true });
    await expectRunsLikeReference(a.modelPath);

    const b = await writeSample('external-one-b', { external: 'always' }, 'onnx/model.onnx');
    await expectIdenticalFiles(a.dir, b.dir, ['onnx/model.onnx', 'onnx/model.onnx_data']);
  });

  it('splits into model.onnx_data and model.onnx_data_1 at maxFileBytes', async () => {
    const a = await writeSample('external-split-a', { external: 'always', maxFileBytes: 12288 });
    expect(a.files.map((f) => f.name)).toEqual(['model.onnx_data', 'model.onnx_data_1', 'model.onnx']);
    expect(a.files[0].bytes).toBe(IN * HIDDEN * 4);
    expect(a.files[1].bytes).toBe(HIDDEN * OUT * 2);
    const v = a.validation;
    expect(v.problems).toEqual([]);
    expect(v.stats.externalDataBytes).toBe(IN * HIDDEN * 4 + HIDDEN * OUT * 2);
    expect(runOfficialChecker(a.modelPath)).toMatchObject({ ok: true });
    await expectRunsLikeReference(a.modelPath);

    const b = await writeSample('external-split-b', { external: 'always', maxFileBytes: 12288 });
    await expectIdenticalFiles(a.dir, b.dir, ['model.onnx', 'model.onnx_data', 'model.onnx_data_1']);
  });
});

describe('writeModel, streaming and contracts', () => {
  function bigGraph(bytes: number): GraphBuilder {
    const g = new GraphBuilder('big');
    const w = g.weight({ name: 'big', type: 'uint8', dims: [bytes], byteLength: bytes });
    g.node('Identity', [w], ['out']);
    g.output('out', 'uint8', [bytes]);
    return g;
  }

  it('passes large emits straight through and coalesces small ones into ≤ 1 MiB writes', async () => {
    const size = 6 * 2 ** 20 + 123;
    for (const external of ['never', 'always'] as const) {
      const target = new MemoryTarget();
      const graph = bigGraph(size);
      const chunk = new Uint8Array(3 * 2 ** 20).fill(7);
      const small = new Uint8Array(4096).fill(7);
      await writeModel({
        graph,
        layout: planLayout(graph.weights, { modelFile: 'm.onnx', external }),
        target,
        ...META,
        fill: async (w, emit) => {
          await emit(chunk.subarray(0, 3 * 2 ** 20));
          for (let left = w.byteLength - chunk.length; left > 0; left -= small.length) {
            await emit(small.subarray(0, Math.min(left, small.length)));
          }
        },
      });
      expect(target.writeSizes).toContain(3 * 2 ** 20);
      expect(target.writeSizes.filter((n) => n !== 3 * 2 ** 20).every((n) => n <= 2 ** 20)).toBe(true);
      const v = await validateModel(memoryOpener(target.files), 'm.onnx');
      expect(v.problems).toEqual([]);
    }
  });

  it('rejects a fill that emits too many or too few bytes, naming the tensor, and closes its sinks', async () => {
    for (const delta of [1, -1]) {
      const { graph, data } = buildSampleModel();
      const target = new MemoryTarget();
      const write = writeModel({
        graph,
        layout: planLayout(graph.weights, { modelFile: 'model.onnx', external: 'always' }),
        target,
        ...META,
        fill: async (w, emit) => {
          const bytes = data.get(w.name)!;
          await emit(w.name === 'W2' ? new Uint8Array(bytes.length + delta) : bytes);
        },
      });
      await expect(write).rejects.toThrow(ConversionError);
      await expect(write).rejects.toThrow(
        /tensor W2: produced (more|fewer) bytes than its shape holds; expected 1280/,
      );
      expect(target.closed).toEqual(['model.onnx_data']);
    }
  });

  it('stops with ConversionAborted when the signal fires', async () => {
    const { graph, fill } = buildSampleModel();
    const controller = new AbortController();
    const write = writeModel({
      graph,
      layout: planLayout(graph.weights, { modelFile: 'model.onnx', external: 'never' }),
      target: new MemoryTarget(),
      ...META,
      signal: controller.signal,
      fill: async (w, emit) => {
        if (w.name === 'b1') controller.abort();
        await fill(w, emit);
      },
    });
    await expect(write).rejects.toBeInstanceOf(ConversionAborted);
  });

  it('refuses a layout planned for other weights', async () => {
    const { graph, fill } = buildSampleModel();
    const layout = planLayout(graph.weights.slice(1), { modelFile: 'model.onnx', external: 'never' });
    const target = new MemoryTarget();
    await expect(writeModel({ graph, layout, target, fill, ...META })).rejects.toThrow(
      /layout does not match/,
    );
    expect(target.files.size).toBe(0);
  });

  it('refuses an inline model over the protobuf limit before writing anything', async () => {
    const graph = bigGraph(2 ** 31);
    const layout: Layout = {
      modelFile: 'm.onnx',
      placements: [{ name: 'big', byteLength: 2 ** 31 }],
      dataFiles: [],
    };
    const target = new MemoryTarget();
    const write = writeModel({ graph, layout, target, ...META, fill: async () => {} });
    await expect(write).rejects.toThrow(/too large for one protobuf file/);
    expect(target.files.size + target.writeSizes.length).toBe(0);
  });

  it('writes a zero-element weight without raw_data (the checker rejects empty data)', async () => {
    const g = new GraphBuilder('empty');
    const x = g.input('x', 'float32', [2, 'n']);
    const e = g.weight({ name: 'e', type: 'float32', dims: [2, 0], byteLength: 0 });
    g.node('Concat', [x, e], ['y'], { axis: { i: 1 } });
    g.output('y', 'float32', [2, 'n']);
    for (const external of ['never', 'always'] as const) {
      const { dir, target } = await diskTarget(`empty-${external}`);
      await writeModel({
        graph: g,
        layout: planLayout(g.weights, { modelFile: 'model.onnx', external }),
        target,
        ...META,
        fill: async () => {},
      });
      expect((await validateAndCommit(target, 'model.onnx')).problems).toEqual([]);
      expect(runOfficialChecker(path.join(dir, 'model.onnx'))).toMatchObject({ ok: true });
    }
  });
});

describe('planModelFiles', () => {
  const header = { ...META, docString: 'planned', metadata: { a: 'b', 'c.d': '{"e":1}' } };

  it('gives the exact files and sizes writeModel then writes, inline, external and split', async () => {
    const modes: Omit<LayoutOptions, 'modelFile'>[] = [
      { external: 'never' },
      { external: 'always' },
      { external: 'always', maxFileBytes: 12288 },
    ];
    for (const mode of modes) {
      const { graph, fill } = buildSampleModel();
      const layout = planLayout(graph.weights, { modelFile: 'onnx/model.onnx', ...mode });
      const planned = planModelFiles({ graph, layout, ...header });
      const target = new MemoryTarget();
      const { files } = await writeModel({ graph, layout, target, fill, ...header });
      expect(planned, JSON.stringify(mode)).toEqual(files);
      for (const f of planned) expect(target.files.get(f.name)!.length, f.name).toBe(f.bytes);
    }
  });

  it('counts every header field: a longer doc string or more metadata plans more bytes', () => {
    const { graph } = buildSampleModel();
    const layout = planLayout(graph.weights, { modelFile: 'model.onnx', external: 'never' });
    const bytes = (extra: Partial<WriteModelOptions>) =>
      planModelFiles({ graph, layout, ...META, ...extra })[0].bytes;
    const base = bytes({});
    expect(bytes({ docString: 'abc' })).toBe(base + 2 + 3); // tag, length, 3 bytes
    expect(bytes({ metadata: { k: 'v' } })).toBe(base + 2 + 6); // tag, length, key and value fields
  });

  it('plans a 2 GiB-scale model without its data and throws what writeModel would', () => {
    const big = new GraphBuilder('big');
    const w = big.weight({ name: 'w', type: 'uint8', dims: [1_900_000_000], byteLength: 1_900_000_000 });
    big.node('Identity', [w], ['out']);
    big.output('out', 'uint8', [1_900_000_000]);
    const layout = planLayout(big.weights, { modelFile: 'model.onnx', external: 'never' });
    const [file] = planModelFiles({ graph: big, layout, ...META });
    expect(file.name).toBe('model.onnx');
    expect(file.bytes).toBeGreaterThan(1_900_000_000);
    expect(file.bytes).toBeLessThan(1_900_000_000 + 1024);

    const over: Layout = {
      modelFile: 'm.onnx',
      placements: [{ name: 'w', byteLength: 2 ** 31 }],
      dataFiles: [],
    };
    const huge = new GraphBuilder('huge');
    const h = huge.weight({ name: 'w', type: 'uint8', dims: [2 ** 31], byteLength: 2 ** 31 });
    huge.node('Identity', [h], ['out']);
    huge.output('out', 'uint8', [2 ** 31]);
    expect(() => planModelFiles({ graph: huge, layout: over, ...META })).toThrow(ConversionError);
    const { graph } = buildSampleModel();
    const mismatched = planLayout(graph.weights.slice(1), { modelFile: 'model.onnx', external: 'never' });
    expect(() => planModelFiles({ graph, layout: mismatched, ...META })).toThrow(/layout does not match/);
  });
});

describe('writeModel and validateModel at 2 GiB scale (sparse, nothing held in memory)', () => {
  const ZEROS = new Uint8Array(16 * 2 ** 20);
  const zeroFill: WriteModelOptions['fill'] = async (w, emit) => {
    for (let left = w.byteLength; left > 0; left -= ZEROS.length) {
      await emit(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
    }
  };

  function graphOf(specs: WeightSpec[]): GraphBuilder {
    const g = new GraphBuilder('large');
    const names = specs.map((s) => g.weight(s));
    g.node('Concat', names, ['out'], { axis: { i: 0 } });
    g.output('out', 'uint8', [specs.reduce((n, s) => n + s.byteLength, 0)]);
    return g;
  }

  it('streams a 1.9 GB inline model and validates it reading only its headers', async () => {
    const graph = graphOf([
      { name: 'huge', type: 'uint8', dims: [1_900_000_000], byteLength: 1_900_000_000 },
    ]);
    const layout = planLayout(graph.weights, { modelFile: 'model.onnx', external: 'auto' });
    expect(layout.dataFiles).toEqual([]);
    const target = new SparseTarget(ZEROS.buffer);
    const { files } = await writeModel({ graph, layout, target, fill: zeroFill, ...META });
    expect(files[0].bytes).toBeGreaterThan(1_900_000_000);
    const v = await validateModel((name) => target.open(name), 'model.onnx');
    expect(v.problems).toEqual([]);
    expect(v.stats.inlineDataBytes).toBe(1_900_000_000);
    expect(target.bytesRead).toBeLessThanOrEqual(2 ** 20);
  });

  it('goes external past the protobuf limit and splits at 2 GiB', async () => {
    const specs = ['a', 'b'].map((name) => ({
      name,
      type: 'uint8' as const,
      dims: [1_100_000_000],
      byteLength: 1_100_000_000,
    }));
    const graph = graphOf(specs);
    const layout = planLayout(graph.weights, { modelFile: 'model.onnx', external: 'auto' });
    expect(layout.dataFiles.map((f) => f.name)).toEqual(['model.onnx_data', 'model.onnx_data_1']);
    const target = new SparseTarget(ZEROS.buffer);
    const { files } = await writeModel({ graph, layout, target, fill: zeroFill, ...META });
    expect(files.map((f) => f.bytes).slice(0, 2)).toEqual([1_100_000_000, 1_100_000_000]);
    const v = await validateModel((name) => target.open(name), 'model.onnx');
    expect(v.problems).toEqual([]);
    expect(v.stats.externalDataBytes).toBe(2_200_000_000);
    expect(target.bytesRead).toBeLessThan(2 ** 20);
  });
});

function externalEntries(t: OnnxTensor): Record<string, string> {
  return Object.fromEntries((t.external_data ?? []).map((e) => [e.key!, e.value!]));
}

function copyOf(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}
