/**
 * OutputTargets for the ONNX tests that the platform adapters do not provide: in-memory files, and a
 * sparse in-memory target that stores long zero runs as lengths (to write multi-GB models without the
 * memory). Files on disk go through src/platform/node's staged target.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ByteSink, ByteSource, OutputTarget } from '../../src/core/io/bytes.ts';
import { MemorySource } from '../safetensors/memory-files.ts';

export const OUT_DIR = path.resolve(import.meta.dirname, '../.out/onnx');

export async function freshDir(name: string): Promise<string> {
  const dir = path.join(OUT_DIR, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

export function memoryOpener(
  files: Map<string, Uint8Array>,
): (name: string) => Promise<ByteSource | undefined> {
  return async (name) => {
    const bytes = files.get(name);
    return bytes ? new MemorySource(name, bytes) : undefined;
  };
}

/** Keeps every file in memory and records the size of each sink write. */
export class MemoryTarget implements OutputTarget {
  readonly files = new Map<string, Uint8Array>();
  readonly writeSizes: number[] = [];
  readonly closed: string[] = [];
  committed = false;

  async create(name: string): Promise<ByteSink> {
    const chunks: Uint8Array[] = [];
    return {
      write: async (bytes) => {
        this.writeSizes.push(bytes.length);
        chunks.push(bytes.slice());
      },
      close: async () => {
        this.closed.push(name);
        this.files.set(name, concat(chunks));
      },
    };
  }

  async open(name: string): Promise<ByteSource | undefined> {
    return memoryOpener(this.files)(name);
  }

  async commit(): Promise<void> {
    this.committed = true;
  }

  async discard(): Promise<void> {
    this.files.clear();
  }
}

type Segment = { at: number; bytes: Uint8Array } | { at: number; zeros: number };

/**
 * Stores writes that are views of `zeroPool` as lengths only, everything else as copies; its files
 * read back as ByteSources that count the bytes they served in `bytesRead`.
 */
export class SparseTarget implements OutputTarget {
  readonly files = new Map<string, { size: number; segments: Segment[] }>();
  bytesRead = 0;

  constructor(private readonly zeroPool: ArrayBufferLike) {}

  async create(name: string): Promise<ByteSink> {
    const file = { size: 0, segments: [] as Segment[] };
    this.files.set(name, file);
    return {
      write: async (bytes) => {
        const isZeros = bytes.buffer === this.zeroPool;
        file.segments.push(
          isZeros ? { at: file.size, zeros: bytes.length } : { at: file.size, bytes: bytes.slice() },
        );
        file.size += bytes.length;
      },
      close: async () => {},
    };
  }

  async commit(): Promise<void> {}
  async discard(): Promise<void> {}

  async open(name: string): Promise<ByteSource | undefined> {
    const file = this.files.get(name);
    if (!file) return undefined;
    return {
      name,
      size: file.size,
      read: async (offset, length) => {
        if (offset + length > file.size) throw new RangeError(`${name}: read past end`);
        this.bytesRead += length;
        const out = new Uint8Array(length);
        for (const s of file.segments) {
          const len = 'zeros' in s ? s.zeros : s.bytes.length;
          const from = Math.max(offset, s.at);
          const to = Math.min(offset + length, s.at + len);
          if (from < to && 'bytes' in s) out.set(s.bytes.subarray(from - s.at, to - s.at), from - offset);
        }
        return out;
      },
    };
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
