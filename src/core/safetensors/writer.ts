/**
 * A streaming safetensors writer: the header is computed from declared sizes alone, so it goes out
 * first and each tensor's bytes are produced on demand by its `fill` and passed straight to the sink.
 * This is what lets tests, the browser sample and the benchmark make gigabyte checkpoints in little memory.
 */
import type { ByteSink } from '../io/bytes.ts';
import { describeTensorType, expectedByteLength, type SafetensorsDtype } from './header.ts';

export type EmitBytes = (bytes: Uint8Array) => Promise<void>;

export interface SafetensorsTensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  byteLength: number;
  /** Emits exactly `byteLength` bytes, in order, in as many pieces as it likes. */
  fill: (emit: EmitBytes) => Promise<void>;
}

export interface WrittenSafetensors {
  headerLength: number;
  /** Size of the whole file: 8 + header + data. */
  totalBytes: number;
}

/**
 * The 8-byte length prefix and JSON header for tensors laid out back to back in the given order.
 * Padded with spaces to a multiple of 8 bytes, as the reference implementation does, so that data
 * offsets stay aligned for readers that map the file.
 */
export function encodeSafetensorsHeader(
  tensors: readonly Omit<SafetensorsTensorSpec, 'fill'>[],
  metadata?: Record<string, string>,
): Uint8Array {
  const entries: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) entries.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    checkSpec(t);
    if (Object.hasOwn(entries, t.name)) throw new Error(`safetensors writer: duplicate tensor ${t.name}`);
    entries[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(entries));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** Writes the file to `sink` without closing it: whoever created the sink owns it. */
export async function writeSafetensors(
  sink: ByteSink,
  tensors: readonly SafetensorsTensorSpec[],
  metadata?: Record<string, string>,
): Promise<WrittenSafetensors> {
  const header = encodeSafetensorsHeader(tensors, metadata);
  await sink.write(header);
  let totalBytes = header.length;
  for (const t of tensors) {
    totalBytes += await writeTensorData(sink, t);
  }
  return { headerLength: header.length - 8, totalBytes };
}

async function writeTensorData(sink: ByteSink, t: SafetensorsTensorSpec): Promise<number> {
  let written = 0;
  await t.fill(async (bytes) => {
    // Checked before writing: once past byteLength every later offset in the header would be wrong.
    if (written + bytes.length > t.byteLength) {
      throw new Error(`safetensors writer: ${t.name} emitted more than its ${t.byteLength} bytes`);
    }
    written += bytes.length;
    await sink.write(bytes);
  });
  if (written !== t.byteLength) {
    throw new Error(`safetensors writer: ${t.name} emitted ${written} of its ${t.byteLength} bytes`);
  }
  return written;
}

function checkSpec(t: Omit<SafetensorsTensorSpec, 'fill'>): void {
  const expected = expectedByteLength(t.dtype, t.shape);
  if (t.byteLength !== expected) {
    throw new Error(
      `safetensors writer: ${t.name} is ${describeTensorType(t.dtype, t.shape)} = ${expected} bytes, not ${t.byteLength}`,
    );
  }
}
