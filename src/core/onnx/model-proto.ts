/**
 * Builder specs → plain objects in the shape of the schema, ready for protobufjs `encode`. Kept apart
 * from the writer so the byte streaming there stays about lengths and order only.
 */
import { dataTypeOf, encodeValues } from './dtypes.ts';
import type { Attr, ConstantSpec, Dim, GraphBuilder, NodeSpec, ValueSpec, WeightSpec } from './graph.ts';
import { AttributeType, DataLocation } from './schema.ts';

type Int64 = number | string;

/** protobufjs takes int64 as a number or a decimal string (for values beyond 2^53). */
function int64(v: number | bigint): Int64 {
  return typeof v === 'bigint' ? v.toString() : v;
}

export function valueInfoObject(v: ValueSpec): object {
  return {
    name: v.name,
    type: { tensor_type: { elem_type: dataTypeOf(v.type), shape: { dim: v.dims.map(dimObject) } } },
  };
}

function dimObject(d: Dim): object {
  return typeof d === 'number' ? { dim_value: d } : { dim_param: d };
}

export function nodeObject(n: NodeSpec): object {
  return {
    input: n.inputs,
    output: n.outputs,
    name: n.name,
    op_type: n.opType,
    attribute: Object.entries(n.attrs).map(([name, attr]) => attributeObject(name, attr)),
    ...(n.domain ? { domain: n.domain } : {}),
  };
}

function attributeObject(name: string, a: Attr): object {
  if ('i' in a) return { name, type: AttributeType.INT, i: int64(a.i) };
  if ('f' in a) return { name, type: AttributeType.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: AttributeType.INTS, ints: a.ints.map(int64) };
  if ('floats' in a) return { name, type: AttributeType.FLOATS, floats: a.floats };
  if ('s' in a) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.s) };
  return {
    name,
    type: AttributeType.TENSOR,
    t: rawTensorObject(undefined, a.t.dims, dataTypeOf(a.t.type), encodeValues(a.t.type, a.t.values)),
  };
}

export function constantObject(c: ConstantSpec): object {
  return rawTensorObject(c.name, c.dims, dataTypeOf(c.type), c.bytes);
}

/** An empty tensor carries no raw_data at all: the checker rejects a 0-element tensor "with data". */
function rawTensorObject(
  name: string | undefined,
  dims: number[],
  dataType: number,
  bytes: Uint8Array,
): object {
  return {
    dims,
    data_type: dataType,
    ...(name !== undefined ? { name } : {}),
    ...(bytes.length > 0 ? { raw_data: bytes } : {}),
  };
}

/** Everything of an inline weight's TensorProto except raw_data, which the writer streams after it. */
export function weightHeaderObject(w: WeightSpec): object {
  return { dims: w.dims, data_type: dataTypeOf(w.type), name: w.name };
}

export function externalWeightObject(w: WeightSpec, location: string, offset: number): object {
  return {
    ...weightHeaderObject(w),
    external_data: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(w.byteLength) },
    ],
    data_location: DataLocation.EXTERNAL,
  };
}

/** The GraphProto fields other than the inline weights; `initializers` are already-built tensor objects. */
export function graphSkeletonObject(graph: GraphBuilder, initializers: object[]): object {
  return {
    node: graph.nodes.map(nodeObject),
    name: graph.name,
    initializer: [...graph.constants.map(constantObject), ...initializers],
    input: graph.inputs.map(valueInfoObject),
    output: graph.outputs.map(valueInfoObject),
  };
}
