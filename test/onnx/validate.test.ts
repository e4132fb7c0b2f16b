/**
 * The validator against hand-made models: protobuf encoded straight from the schema, so each can be
 * broken in exactly one way the builder would never allow.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelProto } from '../../src/core/onnx/schema.ts';
import { validateModel } from '../../src/core/onnx/validate.ts';
import { runOfficialChecker } from '../helpers/onnx-checker.ts';
import { freshDir, memoryOpener } from './targets.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const f32Type = (dims: (number | string)[]) => ({
  tensor_type: {
    elem_type: 1,
    shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
  },
});

/** y = MatMul(x, W) + B with W inline and B external (at offset 64 of the 192-byte model.onnx_data). */
function baseModel(): Json {
  return {
    ir_version: 8,
    producer_name: 'test',
    opset_import: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: [
        { input: ['x', 'W'], output: ['h'], name: 'mm', op_type: 'MatMul' },
        { input: ['h', 'B'], output: ['y'], name: 'add', op_type: 'Add' },
      ],
      initializer: [
        { name: 'W', dims: [2, 2], data_type: 1, raw_data: new Uint8Array(16) },
        {
          name: 'B',
          dims: [2],
          data_type: 1,
          data_location: 1,
          external_data: [
            { key: 'location', value: 'model.onnx_data' },
            { key: 'offset', value: '64' },
            { key: 'length', value: '8' },
          ],
        },
      ],
      input: [{ name: 'x', type: f32Type(['n', 2]) }],
      output: [{ name: 'y', type: f32Type(['n', 2]) }],
    },
  };
}

function filesOf(model: Json, dataBytes = 192): Map<string, Uint8Array> {
  return new Map([
    ['model.onnx', ModelProto.encode(model).finish()],
    ['model.onnx_data', new Uint8Array(dataBytes)],
  ]);
}

async function problemsOf(model: Json, dataBytes?: number): Promise<string[]> {
  return (await validateModel(memoryOpener(filesOf(model, dataBytes)), 'model.onnx')).problems;
}

/** Applies `edit` to a fresh base model and returns its problems. */
async function problemsAfter(edit: (m: Json) => void, dataBytes?: number): Promise<string[]> {
  const m = baseModel();
  edit(m);
  return problemsOf(m, dataBytes);
}

describe('validateModel', () => {
  it('accepts the well-formed base model, as does the official checker', async () => {
    const result = await validateModel(memoryOpener(filesOf(baseModel())), 'model.onnx');
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.stats).toMatchObject({
      irVersion: 8,
      opsets: { '': 17 },
      nodes: 2,
      opTypes: { MatMul: 1, Add: 1 },
      inputs: 1,
      outputs: 1,
      initializers: 2,
      inlineDataBytes: 16,
      externalDataBytes: 8,
      externalFiles: [{ name: 'model.onnx_data', bytes: 192 }],
    });
    expect((await writeToDisk('base', baseModel())).ok).toBe(true);
  });

  it('catches an undefined input and a value defined twice (so does the checker)', async () => {
    const undefinedInput = (m: Json) => (m.graph.node[1].input[1] = 'nope');
    const duplicate = (m: Json) =>
      m.graph.node.unshift({ input: ['x'], output: ['h'], name: 'r', op_type: 'Relu' });
    expect(await problemsAfter(undefinedInput)).toEqual([
      'node add (Add): input "nope" is not defined before use',
    ]);
    expect(await problemsAfter(duplicate)).toEqual([
      'value "h" is defined more than once (again as node mm (MatMul))',
    ]);
    for (const [name, edit] of Object.entries({ undefinedInput, duplicate })) {
      const m = baseModel();
      edit(m);
      expect((await writeToDisk(name, m)).ok, name).toBe(false);
    }
  });

  it('catches a wrong raw_data length (which the onnx 1.12 checker does not look at)', async () => {
    expect(await problemsAfter((m) => (m.graph.initializer[0].raw_data = new Uint8Array(12)))).toEqual([
      'initializer "W": raw_data has 12 bytes, expected 16',
    ]);
    expect(await problemsAfter((m) => (m.graph.initializer[0].dims = [2, 0]))).toEqual([
      'initializer "W": 0-element tensor with raw_data',
    ]);
    expect(await problemsAfter((m) => delete m.graph.initializer[0].raw_data)).toEqual([
      'initializer "W": no data',
    ]);
  });

  it('is stricter than ONNX about an initializer shadowing a graph input', async () => {
    const shadow = (m: Json) => m.graph.initializer.push({ ...m.graph.initializer[0], name: 'x' });
    expect(await problemsAfter(shadow)).toEqual([
      'value "x" is defined more than once (again as initializer)',
    ]);
  });

  it('catches nodes out of topological order and outputs nobody produces', async () => {
    expect(await problemsAfter((m) => m.graph.node.reverse())).toEqual([
      'node add (Add): input "h" is not defined before use',
    ]);
    expect(await problemsAfter((m) => (m.graph.output[0].name = 'z'))).toEqual([
      'graph output "z" is never produced',
    ]);
    expect(await problemsAfter((m) => (m.graph.node[1].output = ['h']))).toEqual([
      'value "h" is defined more than once (again as node add (Add))',
      'graph output "y" is never produced',
    ]);
  });

  it('checks external data locations, ranges and numbers', async () => {
    const setEntry = (key: string, value: string) => (m: Json) => {
      m.graph.initializer[1].external_data.find((e: Json) => e.key === key).value = value;
    };
    expect(await problemsAfter(setEntry('offset', '188'))).toEqual([
      'initializer "B": bytes 188..196 past the end of model.onnx_data (192)',
    ]);
    expect(await problemsAfter(setEntry('location', '../model.onnx_data'))).toEqual([
      'initializer "B": external location "../model.onnx_data" leaves the model folder',
    ]);
    expect(await problemsAfter(setEntry('location', 'sub\\..\\x'))).toEqual([
      'initializer "B": external location "sub\\..\\x" leaves the model folder',
    ]);
    expect(await problemsAfter(setEntry('location', '/tmp/model.onnx_data'))).toEqual([
      'initializer "B": external location "/tmp/model.onnx_data" is absolute',
    ]);
    expect(await problemsAfter(setEntry('location', 'C:model.onnx_data'))).toEqual([
      'initializer "B": external location "C:model.onnx_data" is absolute',
    ]);
    expect(await problemsAfter(setEntry('offset', '0x40'))).toEqual([
      'initializer "B": external offset "0x40" is not decimal',
    ]);
    expect(await problemsAfter(setEntry('length', '4'))).toEqual([
      'initializer "B": external length 4, expected 8',
    ]);
    expect(await problemsAfter(setEntry('location', 'other.bin'))).toEqual([
      'external data file other.bin (for B) not found',
    ]);
    expect(
      await problemsAfter((m) => m.graph.initializer[1].external_data.push({ key: 'basepath', value: '/' })),
    ).toEqual(['initializer "B": unknown external_data key "basepath"']);
  });

  it('catches overlapping external tensors', async () => {
    const overlapping = (m: Json) => {
      m.graph.initializer[0] = {
        ...m.graph.initializer[1],
        name: 'W',
        dims: [2, 2],
        external_data: [
          { key: 'location', value: 'model.onnx_data' },
          { key: 'offset', value: '60' },
          { key: 'length', value: '16' },
        ],
      };
    };
    expect(await problemsAfter(overlapping)).toEqual(['initializer "B" overlaps "W" in model.onnx_data']);
  });

  it('checks IR version, opset and operator domains', async () => {
    expect(await problemsAfter((m) => (m.ir_version = 9))).toEqual(['ir_version is 9, expected 8']);
    expect(await problemsAfter((m) => (m.opset_import = [{ domain: '', version: 18 }]))).toEqual([
      'default-domain opset is 18, expected 17',
    ]);
    expect(await problemsAfter((m) => (m.graph.node[1].op_type = 'SimplifiedLayerNormalization'))).toEqual([
      'node add (SimplifiedLayerNormalization): "SimplifiedLayerNormalization" is not an ONNX operator at opset ≤ 17',
    ]);
    const microsoft = (m: Json) =>
      Object.assign(m.graph.node[1], { op_type: 'MatMulNBits', domain: 'com.microsoft' });
    expect(await problemsAfter(microsoft)).toEqual([
      'node add (MatMulNBits): domain "com.microsoft" is not imported',
    ]);
    expect(
      await problemsAfter((m) => {
        microsoft(m);
        m.opset_import.push({ domain: 'com.microsoft', version: 1 });
      }),
    ).toEqual([]);
  });

  it('requires typed, shaped graph inputs and outputs', async () => {
    expect(await problemsAfter((m) => delete m.graph.input[0].type.tensor_type.shape)).toEqual([
      'graph input "x" has no shape',
    ]);
    expect(await problemsAfter((m) => delete m.graph.output[0].type)).toEqual([
      'graph output "y" has no tensor type',
    ]);
    expect(await problemsAfter((m) => (m.graph.input[0].type.tensor_type.shape.dim[0] = {}))).toEqual([
      'graph input "x": dimension 0 has neither a size nor a name',
    ]);
  });

  it('reports a file that is not protobuf instead of throwing', async () => {
    const bytes = ModelProto.encode(baseModel()).finish();
    for (const broken of [
      bytes.subarray(0, bytes.length - 5),
      Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0x7f]),
    ]) {
      const files = new Map([['model.onnx', broken]]);
      const result = await validateModel(memoryOpener(files), 'model.onnx');
      expect(result.ok).toBe(false);
      expect(result.problems[0]).toMatch(/^model\.onnx: malformed protobuf at byte \d+/);
    }
    expect((await validateModel(memoryOpener(new Map()), 'model.onnx')).problems).toEqual([
      'model.onnx: file not found',
    ]);
  });
});

async function writeToDisk(name: string, model: Json): Promise<{ ok: boolean; output: string }> {
  const dir = await freshDir(`validate-${name}`);
  for (const [file, bytes] of filesOf(model)) await writeFile(path.join(dir, file), bytes);
  return runOfficialChecker(path.join(dir, 'model.onnx'));
}
