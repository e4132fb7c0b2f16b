import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { PROTO_FILE } from '../../scripts/build-proto.ts';
import {
  AttributeProto,
  AttributeType,
  DataLocation,
  decodePlain,
  FIELD,
  GraphProto,
  ModelProto,
  NodeProto,
  TensorProto,
  TensorShapeProto,
  type MessageCodec,
  type OnnxModel,
} from '../../src/core/onnx/schema.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** protobufjs hands out Buffers in Node; compare their bytes as plain Uint8Arrays. */
function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plainBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainBytes(v)]));
  }
  return value;
}

describe('ONNX schema subset', () => {
  it('round-trips a model with every message kind', () => {
    const model = {
      ir_version: 8,
      producer_name: 'p',
      producer_version: '1',
      doc_string: 'd',
      opset_import: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      metadata_props: [{ key: 'k', value: 'v' }],
      graph: {
        name: 'g',
        node: [
          {
            input: ['x', ''],
            output: ['y'],
            name: 'n0',
            op_type: 'Foo',
            domain: 'com.microsoft',
            attribute: [
              { name: 'i', type: 2, i: -3 },
              { name: 'f', type: 1, f: 0.5 },
              { name: 'ints', type: 7, ints: [1, -1, 9007199254740991] },
              { name: 'floats', type: 6, floats: [0.25, -2] },
              { name: 's', type: 3, s: new Uint8Array([104, 105]) },
              { name: 't', type: 4, t: { dims: [2], data_type: 6, raw_data: new Uint8Array(8) } },
            ],
          },
        ],
        initializer: [
          {
            name: 'w',
            dims: [4, 0],
            data_type: 1,
            data_location: 1,
            external_data: [
              { key: 'location', value: 'model.onnx_data' },
              { key: 'offset', value: '4096' },
              { key: 'length', value: '0' },
            ],
          },
        ],
        input: [
          {
            name: 'x',
            type: {
              tensor_type: { elem_type: 7, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 0 }] } },
            },
          },
        ],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }],
      },
    };
    const bytes = ModelProto.encode(model).finish();
    const decoded = decodePlain<OnnxModel>(ModelProto, bytes);
    // Empty repeated fields and a message with no set fields have no wire form; everything else survives.
    const expected = {
      ...model,
      graph: { ...model.graph, output: [{ name: 'y', type: { tensor_type: { elem_type: 1, shape: {} } } }] },
    };
    expect(plainBytes(decoded)).toEqual(expected);
    expect(hex(ModelProto.encode(decoded).finish())).toBe(hex(bytes));
  });

  it('uses the official field numbers and wire types', () => {
    const cases: [MessageCodec, object, string][] = [
      [ModelProto, { ir_version: 8 }, '0808'],
      [ModelProto, { producer_name: 'a' }, '120161'],
      [ModelProto, { graph: {} }, '3a00'],
      [ModelProto, { opset_import: [{ domain: '', version: 17 }] }, '42040a001011'],
      [ModelProto, { metadata_props: [{ key: 'a', value: 'b' }] }, '72060a0161120162'],
      [GraphProto, { node: [{}] }, '0a00'],
      [GraphProto, { name: 'a' }, '120161'],
      [GraphProto, { initializer: [{}] }, '2a00'],
      [GraphProto, { input: [{}] }, '5a00'],
      [GraphProto, { output: [{}] }, '6200'],
      [NodeProto, { input: ['a'], output: ['b'] }, '0a01611201' + '62'],
      [NodeProto, { name: 'a', op_type: 'b' }, '1a0161220162'],
      [NodeProto, { domain: 'a' }, '3a0161'],
      [NodeProto, { attribute: [{}] }, '2a00'],
      [AttributeProto, { name: 'a', type: 2, i: 1 }, '0a01611801a00102'],
      [AttributeProto, { f: 1 }, '150000803f'],
      [AttributeProto, { ints: [1, 2] }, '40014002'], // proto2: unpacked like onnx.proto
      [AttributeProto, { floats: [1] }, '3d0000803f'],
      [AttributeProto, { s: new Uint8Array([1]) }, '220101'],
      [AttributeProto, { t: {} }, '2a00'],
      [TensorProto, { dims: [2, 3] }, '08020803'],
      [TensorProto, { data_type: 1 }, '1001'],
      [TensorProto, { name: 'a' }, '420161'],
      [TensorProto, { raw_data: new Uint8Array([7]) }, '4a0107'],
      [TensorProto, { external_data: [{ key: 'a', value: 'b' }] }, '6a060a0161120162'],
      [TensorProto, { data_location: 1 }, '7001'],
      [TensorProto, { float_data: [1] }, '22040000803f'],
      [TensorProto, { int64_data: [1, 2] }, '3a020102'],
      [TensorShapeProto, { dim: [{ dim_value: 5 }, { dim_param: 'n' }] }, '0a0208050a0312016e'],
    ];
    for (const [type, value, expected] of cases) {
      expect(hex(type.encode(value).finish()), `${type.name} ${JSON.stringify(value)}`).toBe(expected);
    }
    expect(FIELD).toEqual({ modelGraph: 7, graphInitializer: 5, tensorRawData: 9 });
  });

  it('hand-written field numbers and enums match onnx-subset.proto', () => {
    // Reflection only parses here (no encoder is compiled), to read the .proto's own numbers.
    const root = protobuf.parse(readFileSync(PROTO_FILE, 'utf8'), { keepCase: true }).root;
    const id = (type: string, field: string) => root.lookupType(`onnx.${type}`).fields[field].id;
    expect(FIELD).toEqual({
      modelGraph: id('ModelProto', 'graph'),
      graphInitializer: id('GraphProto', 'initializer'),
      tensorRawData: id('TensorProto', 'raw_data'),
    });
    expect(AttributeType).toMatchObject(root.lookupEnum('onnx.AttributeProto.AttributeType').values);
    expect(DataLocation).toMatchObject(root.lookupEnum('onnx.TensorProto.DataLocation').values);
  });
});
