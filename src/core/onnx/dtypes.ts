/**
 * Element types the builder speaks, their ONNX `TensorProto.DataType` codes and byte sizes, and the
 * little-endian encoding of small constant tensors into `raw_data`.
 */

export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** `TensorProto.DataType` codes (onnx.proto). Only those a validator may meet in raw_data are listed. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

const ELEM_DATA_TYPE: Record<ElemType, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

/** Bytes per element of every fixed-size data type; STRING and UNDEFINED have none. */
const DATA_TYPE_BYTES: ReadonlyMap<number, number> = new Map([
  [DataType.FLOAT, 4],
  [DataType.UINT8, 1],
  [DataType.INT8, 1],
  [DataType.UINT16, 2],
  [DataType.INT16, 2],
  [DataType.INT32, 4],
  [DataType.INT64, 8],
  [DataType.BOOL, 1],
  [DataType.FLOAT16, 2],
  [DataType.DOUBLE, 8],
  [DataType.UINT32, 4],
  [DataType.UINT64, 8],
  [DataType.COMPLEX64, 8],
  [DataType.COMPLEX128, 16],
  [DataType.BFLOAT16, 2],
]);

export function dataTypeOf(type: ElemType): number {
  const code = ELEM_DATA_TYPE[type];
  if (code === undefined) throw new Error(`unknown element type "${type}"`);
  return code;
}

/** Byte size of one element of an ONNX data type code, or undefined for STRING / unknown codes. */
export function dataTypeBytes(code: number): number | undefined {
  return DATA_TYPE_BYTES.get(code);
}

export function elemBytes(type: ElemType): number {
  return DATA_TYPE_BYTES.get(dataTypeOf(type))!;
}

/** Element count of a shape; every dimension must be a non-negative safe integer. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`invalid dimension ${d} in [${dims.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`shape [${dims.join(', ')}] has too many elements`);
  return n;
}

/** Little-endian bytes of `values` as `type`, the layout ONNX `raw_data` uses. */
export function encodeValues(type: ElemType, values: readonly (number | bigint)[]): Uint8Array {
  const bytes = new Uint8Array(values.length * elemBytes(type));
  const view = new DataView(bytes.buffer);
  values.forEach((v: number | bigint, i: number) => writeElement(view, type, i, v));
  return bytes;
}

function writeElement(view: DataView, type: ElemType, i: number, v: number | bigint): void {
  switch (type) {
    case 'float32':
      return view.setFloat32(i * 4, Number(v), true);
    case 'float16':
      return view.setUint16(i * 2, float16Bits(Number(v)), true);
    case 'int64':
      return view.setBigInt64(i * 8, toBigInt(v), true);
    case 'int32':
      return view.setInt32(i * 4, checkedInt(v, -(2 ** 31), 2 ** 31 - 1), true);
    case 'int8':
      return view.setInt8(i, checkedInt(v, -128, 127));
    case 'uint8':
      return view.setUint8(i, checkedInt(v, 0, 255));
    case 'bool':
      return view.setUint8(i, Number(v) !== 0 ? 1 : 0);
  }
}

function toBigInt(v: number | bigint): bigint {
  if (typeof v === 'bigint') {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new Error(`int64 value ${v} out of range`);
    return v;
  }
  if (!Number.isSafeInteger(v)) throw new Error(`int64 value ${v} is not a safe integer; pass a bigint`);
  return BigInt(v);
}

function checkedInt(v: number | bigint, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`value ${v} does not fit [${min}, ${max}]`);
  return n;
}

/**
 * IEEE half-precision bits of a double, rounded to nearest even directly from the double (going
 * through float32 first could round twice).
 */
export function float16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  const e = Math.max(exponentOf(a), -14);
  // Mantissa with its leading bit, in units of the last place of a half at exponent e.
  let m = roundHalfEven(a / 2 ** (e - 10));
  let exp = e;
  if (m === 2048) {
    m = 1024;
    exp += 1;
  }
  if (exp > 15) return sign | 0x7c00;
  if (m < 1024) return sign | m; // subnormal: exponent field 0
  return sign | ((exp + 15) << 10) | (m - 1024);
}

/** floor(log2(a)) exactly; Math.log2 can be off by one next to powers of two. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  return e;
}

function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
