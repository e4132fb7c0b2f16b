/**
 * The few protobuf wire-format primitives the streaming writer and the validator's walker need where
 * protobufjs cannot help: they deal in lengths and tags of messages too large to hold.
 */
import { WireType } from './schema.ts';

/** Varint bytes of a non-negative safe integer (lengths and tags; protobuf lengths stay < 2^31). */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`cannot encode ${n} as a varint length`);
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Value of varint bytes; exact up to 2^53, which covers every tag and length this project reads. */
export function decodeVarint(bytes: Uint8Array): number {
  let value = 0;
  let scale = 1;
  for (const b of bytes) {
    value += (b & 0x7f) * scale;
    scale *= 0x80;
  }
  return value;
}

/** Tag and length prefix of a length-delimited field whose payload is `length` bytes. */
export function lenFieldPrefix(field: number, length: number): Uint8Array {
  return concatBytes([encodeVarint(field * 8 + WireType.LEN), encodeVarint(length)]);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
