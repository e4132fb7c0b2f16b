/**
 * The safetensors header: `u64 LE length`, then that many bytes of JSON mapping each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the end of the header). Parsing
 * it reads only those first bytes; every tensor becomes a window into the file, never a copy.
 */
import type { ByteSource } from '../io/bytes.ts';
import { ConversionError } from '../errors.ts';

/** Bytes per element of every dtype we accept (sub-byte float formats are not supported). */
export const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute position of the first byte in the file: 8 + header length + begin. */
  byteOffset: number;
  byteLength: number;
  source: ByteSource;
}

export interface SafetensorsHeader {
  /** The source's name, for messages. */
  file: string;
  /** Length of the JSON header (without the 8-byte length prefix). */
  headerLength: number;
  /** Absolute offset where tensor data begins. */
  dataStart: number;
  /** `__metadata__` string entries; anything else in it is ignored. */
  metadata: Record<string, string>;
  /** In file order (by offset). */
  tensors: TensorInfo[];
}

/** A real header is tens of kilobytes; a larger length means a corrupt or foreign file. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function isSafetensorsDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === 'string' && Object.hasOwn(DTYPE_SIZES, dtype);
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZES[dtype];
}

/** dtype size × product(shape); NaN when it would not be an exact (safe) integer. */
export function expectedByteLength(dtype: SafetensorsDtype, shape: readonly number[]): number {
  let n = dtypeSize(dtype);
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : NaN;
}

export function describeTensorType(dtype: string, shape: readonly number[]): string {
  return `${dtype} [${shape.join(', ')}]`;
}

export async function readSafetensorsHeader(source: ByteSource): Promise<SafetensorsHeader> {
  const headerLength = await readHeaderLength(source);
  const json = parseHeaderJson(source.name, await source.read(8, headerLength));
  const dataStart = 8 + headerLength;
  const dataSize = source.size - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') metadata = stringEntries(entry);
    else tensors.push(parseTensorEntry(source, name, entry, dataStart, dataSize));
  }
  tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  checkNoOverlap(source.name, dataStart, tensors);
  return { file: source.name, headerLength, dataStart, metadata, tensors };
}

async function readHeaderLength(source: ByteSource): Promise<number> {
  const file = source.name;
  if (source.size < 8) {
    throw new ConversionError('file too short to be safetensors', {
      file,
      expected: 'at least 8 bytes',
      found: `${source.size} bytes`,
    });
  }
  const prefix = await source.read(0, 8);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new ConversionError('header length is absurd (corrupt file or not safetensors)', {
      file,
      expected: `at most ${MAX_HEADER_BYTES} bytes`,
      found: `${length} bytes`,
    });
  }
  if (length > BigInt(source.size - 8)) {
    throw new ConversionError('header length runs past the end of the file (truncated or corrupt)', {
      file,
      expected: `at most ${source.size - 8} bytes`,
      found: `${length} bytes`,
    });
  }
  return Number(length);
}

function parseHeaderJson(file: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ConversionError('header is not valid JSON', {
      file,
      expected: 'a UTF-8 JSON object',
      found: oneLine(err instanceof Error ? err.message : String(err)),
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConversionError('header is not a JSON object', {
      file,
      expected: 'an object of tensor entries',
      found: jsonKind(value),
    });
  }
  return value as Record<string, unknown>;
}

function parseTensorEntry(
  source: ByteSource,
  name: string,
  entry: unknown,
  dataStart: number,
  dataSize: number,
): TensorInfo {
  const fail = (problem: string, expected: string, found: string): never => {
    throw new ConversionError(problem, { file: source.name, tensor: name, expected, found });
  };
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return fail('header entry is not an object', '{dtype, shape, data_offsets}', jsonKind(entry));
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) {
    return fail('unknown dtype', `one of ${Object.keys(DTYPE_SIZES).join(', ')}`, jsonSnippet(dtype));
  }
  if (!isIntegerList(shape)) {
    return fail('shape is not a list of non-negative integers', 'e.g. [640, 2560]', jsonSnippet(shape));
  }
  if (!isIntegerList(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
    return fail('data_offsets is not [begin, end] with begin <= end', '[begin, end]', jsonSnippet(offsets));
  }
  const [begin, end] = offsets;
  if (end > dataSize) {
    fail('data_offsets run past the end of the file', `end <= ${dataSize}`, `[${begin}, ${end}]`);
  }
  const expectedLength = expectedByteLength(dtype, shape);
  if (end - begin !== expectedLength) {
    fail(
      'data length does not match dtype and shape',
      `${expectedLength} bytes for ${describeTensorType(dtype, shape)}`,
      `${end - begin} bytes (data_offsets [${begin}, ${end}])`,
    );
  }
  return { name, dtype, shape, byteOffset: dataStart + begin, byteLength: end - begin, source };
}

/** `tensors` sorted by offset. Empty tensors occupy no bytes, so they cannot overlap anything. */
function checkNoOverlap(file: string, dataStart: number, tensors: readonly TensorInfo[]): void {
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.byteLength === 0) continue;
    const previousEnd = previous ? previous.byteOffset + previous.byteLength - dataStart : 0;
    if (previous && t.byteOffset - dataStart < previousEnd) {
      const begin = t.byteOffset - dataStart;
      throw new ConversionError(`data overlaps tensor ${previous.name}`, {
        file,
        tensor: t.name,
        expected: `data_offsets to begin at or after ${previousEnd}`,
        found: `data_offsets [${begin}, ${begin + t.byteLength}]`,
      });
    }
    previous = t;
  }
}

function isIntegerList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function stringEntries(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string'));
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${jsonSnippet(value)}`;
}

/** JSON text of a value, cut so the error stays one readable line. */
export function jsonSnippet(value: unknown): string {
  return oneLine(JSON.stringify(value) ?? String(value));
}

export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
