/**
 * The engine's output decisions that both front ends share (src/core/convert): file naming per layout,
 * what is copied through, the plan of every file with its exact size, the format choice, the check
 * scope, and that one conversion reads the checkpoint headers once however many formats it writes.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURES, safetensorsBytes } from '../../scripts/make-fixtures.ts';
import { BITNET_2B_4T_DIMS, syntheticCheckpoint } from '../../src/core/bitnet/synthetic.ts';
import type { ModelPlan } from '../../src/core/bitnet/model-plan.ts';
import { REFERENCE_PARAM_LIMIT, runtimeCheckScope } from '../../src/core/check/check-scope.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { convertOutput } from '../../src/core/convert/convert-output.ts';
import { copiedFileNames, TOKENIZER_FILES } from '../../src/core/convert/copy-through.ts';
import { describeOutput } from '../../src/core/convert/describe-output.ts';
import { formatOptions } from '../../src/core/convert/format-choice.ts';
import { summariseModel } from '../../src/core/convert/model-summary.ts';
import { folderModelFile, layoutModelFile } from '../../src/core/convert/output-layout.ts';
import { planOutput, type OutputRequest } from '../../src/core/convert/output-plan.ts';
import { defaultFormat } from '../../src/core/formats/registry.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { MemoryTarget } from '../onnx/targets.ts';
import { memoryFiles } from '../safetensors/memory-files.ts';

const TOKENIZER = JSON.stringify({ version: '1.0', model: { type: 'WordLevel', vocab: { a: 0 } } });

/** The untied fixture as a picked folder, with a tokenizer and a generation config beside it. */
async function untiedInput() {
  const { config, tensors } = syntheticCheckpoint(FIXTURES['packed-untied']);
  return memoryFiles({
    'config.json': JSON.stringify(config),
    'model.safetensors': await safetensorsBytes(tensors),
    'tokenizer.json': TOKENIZER,
    'generation_config.json': JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }),
    'README.md': 'not copied',
  });
}

const int2int8: OutputRequest = {
  layout: 'folder',
  formats: [defaultFormat('int2'), defaultFormat('int8')],
  external: 'auto',
};

describe('output layout and copy-through', () => {
  it('names each format’s model by layout, as transformers.js expects in a folder', () => {
    expect(layoutModelFile('folder', 'int2')).toBe('onnx/model_q2.onnx');
    expect(folderModelFile('int8')).toBe('onnx/model_int8.onnx');
    expect(layoutModelFile('single', 'fp32')).toBe('model.onnx');
    expect(layoutModelFile('single', 'int2')).toBe('model_q2.onnx');
  });

  it('a folder copies the tokenizer (it writes its own configs); a single file also gets the input’s configs', () => {
    const names = ['README.md', 'config.json', 'generation_config.json', 'merges.txt', 'tokenizer.json'];
    expect(copiedFileNames(names, 'folder')).toEqual(['tokenizer.json', 'merges.txt']);
    expect(copiedFileNames(names, 'single')).toEqual([
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'merges.txt',
    ]);
    expect(TOKENIZER_FILES).toContain('tokenizer_config.json');
  });
});

describe('formatOptions: one reading of a person’s choice for the CLI and the tab', () => {
  it('takes each format’s defaults and the given overrides', () => {
    expect(formatOptions({ weights: 'int2', head: 'q8' })).toEqual(defaultFormat('int2', 'q8'));
    expect(formatOptions({ weights: 'int2', blockSize: 64, embed: 'fp32', head: 'q8' })).toEqual({
      ...defaultFormat('int2', 'q8'),
      blockSize: 64,
      embed: 'fp32',
    });
  });

  it('gives the plain opset-17 format the exact head whatever head was chosen for the compact ones', () => {
    expect(formatOptions({ weights: 'fp32', head: 'q8' })).toEqual(defaultFormat('fp32'));
  });
});

describe('runtimeCheckScope', () => {
  it('checks a small model whole and the 2B-4T shape on a probe, saying why', () => {
    const small = { dims: FIXTURES['packed-untied'].dims, lmHead: {} } as ModelPlan;
    expect(runtimeCheckScope(small)).toEqual({ mode: 'full' });
    const big = { dims: BITNET_2B_4T_DIMS } as ModelPlan;
    const scope = runtimeCheckScope(big);
    expect(scope.mode).toBe('probe');
    if (scope.mode === 'probe') expect(scope.reason).toMatch(/^2\.\d\dB parameters .* first 2 layers/);
    expect(runtimeCheckScope(small, 1).mode).toBe('probe');
    expect(REFERENCE_PARAM_LIMIT).toBe(400_000_000);
  });
});

describe('planOutput', () => {
  it('lists every file a folder conversion writes, in order, with the exact sizes it writes', async () => {
    const input = await untiedInput();
    const inspected = await inspectModel(input);
    const plan = await planOutput(inspected, input, int2int8);
    expect(plan.files.map((f) => [f.name, f.role])).toEqual([
      ['onnx/model_q2.onnx', 'model'],
      ['onnx/model_int8.onnx', 'model'],
      ['config.json', 'config'],
      ['generation_config.json', 'config'],
      ['genai_config.json', 'config'],
      ['tokenizer.json', 'copied'],
    ]);
    expect(plan.check).toEqual({ mode: 'full' });

    const target = new MemoryTarget();
    const result = await convertOutput({ ...int2int8, input, target, kernels: await loadNodeKernels() });
    expect(target.committed).toBe(true);
    expect(result.files).toEqual(plan.files.map(({ name, bytes }) => ({ name, bytes })));
    expect(plan.totalBytes).toBe([...target.files.values()].reduce((n, b) => n + b.length, 0));
    expect(new TextDecoder().decode(target.files.get('tokenizer.json'))).toBe(TOKENIZER);
  });

  it('a single file: the model, then the input’s configs and tokenizer; or the model alone for the CLI', async () => {
    const input = await untiedInput();
    const inspected = await inspectModel(input);
    const single: OutputRequest = { layout: 'single', formats: [defaultFormat('int8')], external: 'auto' };
    const plan = await planOutput(inspected, input, single);
    expect(plan.files.map((f) => f.name)).toEqual([
      'model_int8.onnx',
      'config.json',
      'generation_config.json',
      'tokenizer.json',
    ]);
    const alone = await planOutput(inspected, input, { ...single, modelFile: 'x.onnx', copyThrough: false });
    expect(alone.files.map((f) => f.name)).toEqual(['x.onnx']);

    const target = new MemoryTarget();
    const result = await convertOutput({ ...single, input, target, kernels: await loadNodeKernels() });
    expect(result.files).toEqual(plan.files.map(({ name, bytes }) => ({ name, bytes })));
    expect(result.copied).toEqual(['config.json', 'generation_config.json', 'tokenizer.json']);
  });

  it('puts external data beside its model when asked', async () => {
    const input = await untiedInput();
    const plan = await planOutput(await inspectModel(input), input, { ...int2int8, external: 'always' });
    expect(plan.files.slice(0, 4).map((f) => [f.name, f.role])).toEqual([
      ['onnx/model_q2.onnx_data', 'data'],
      ['onnx/model_q2.onnx', 'model'],
      ['onnx/model_int8.onnx_data', 'data'],
      ['onnx/model_int8.onnx', 'model'],
    ]);
  });

  it('rejects a request no front end should make', async () => {
    const input = await untiedInput();
    const inspected = await inspectModel(input);
    await expect(planOutput(inspected, input, { ...int2int8, layout: 'single' })).rejects.toThrow(
      /single model file holds one format/,
    );
    await expect(
      planOutput(inspected, input, { ...int2int8, formats: [defaultFormat('int8'), defaultFormat('int8')] }),
    ).rejects.toThrow(/requested twice/);
  });

  it('reads a damaged generation_config.json as the conversion would: an input error naming the file', async () => {
    const input = await untiedInput();
    const inspected = await inspectModel(input);
    input.sources.get('generation_config.json')!.bytes.fill(0x7b);
    await expect(planOutput(inspected, input, int2int8)).rejects.toThrow(
      /^generation_config\.json: invalid JSON/,
    );
  });
});

describe('one reading of the headers per conversion', () => {
  it('a two-format folder reads the safetensors header once (and inspection ahead of it makes that zero)', async () => {
    const input = await untiedInput();
    const model = input.sources.get('model.safetensors')!;
    // A header reading starts with its 8-byte length at offset 0; tensor data never starts there.
    const headerReads = () => model.reads.filter(([offset]) => offset === 0).length;
    await convertOutput({ ...int2int8, input, target: new MemoryTarget(), kernels: await loadNodeKernels() });
    expect(headerReads()).toBe(1);

    const inspected = await inspectModel(input);
    const before = headerReads();
    await convertOutput({
      ...int2int8,
      input,
      inspected,
      target: new MemoryTarget(),
      kernels: await loadNodeKernels(),
    });
    expect(headerReads()).toBe(before);
  });
});

describe('describeOutput (the CLI’s --dry-run)', () => {
  it('prints what was loaded, the formats and each planned file with its size', async () => {
    const input = await untiedInput();
    const inspected = await inspectModel(input);
    const plan = await planOutput(inspected, input, int2int8);
    const lines = describeOutput(summariseModel(inspected, input.list()), plan, 'out/m');
    expect(lines[0]).toMatch(/^input: model\.safetensors, [\d.]+ kB of tensors, 39 tensors \(39 used\)$/);
    expect(lines).toContain('layout: model folder → out/m');
    expect(lines).toContain('format: int2 (block 128) weights, fp32 embedding, exact head (the default)');
    expect(lines.some((l) => /^ {2}onnx\/model_q2\.onnx +[\d.]+ kB {2}model$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}tokenizer\.json +\d+ B {2}copied from the input$/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('check: structure, then onnxruntime against the reference forward pass');
  });
});
