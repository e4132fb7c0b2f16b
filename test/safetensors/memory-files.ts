/** In-memory ByteSource / InputFiles that count what is read, to prove reads stay lazy. */
import { expect } from 'vitest';
import type { ByteSource, InputFiles } from '../../src/core/io/bytes.ts';
import { ConversionError } from '../../src/core/errors.ts';

export class MemorySource implements ByteSource {
  bytesRead = 0;
  reads: [offset: number, length: number][] = [];

  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw new RangeError(`${this.name}: read past end`);
    }
    this.bytesRead += length;
    this.reads.push([offset, length]);
    return this.bytes.slice(offset, offset + length);
  }
}

export interface MemoryFiles extends InputFiles {
  sources: Map<string, MemorySource>;
  /** Total bytes read over every file. */
  bytesRead(): number;
}

export function memoryFiles(files: Record<string, Uint8Array | string>, entry?: string): MemoryFiles {
  const sources = new Map(
    Object.entries(files).map(([name, content]) => [
      name,
      new MemorySource(name, typeof content === 'string' ? new TextEncoder().encode(content) : content),
    ]),
  );
  return {
    entry,
    sources,
    list: () => [...sources.keys()].sort(),
    open: async (name) => sources.get(name),
    bytesRead: () => [...sources.values()].reduce((n, s) => n + s.bytesRead, 0),
  };
}

/** Runs `fn`, expecting a ConversionError; returns it for further checks. */
export async function conversionError(fn: () => Promise<unknown>): Promise<ConversionError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ConversionError) return err;
    throw err;
  }
  throw new Error('expected a ConversionError, but nothing was thrown');
}

/** The contract every user-facing message keeps: one line, naming the file (and tensor), expected vs found. */
export function expectWellFormed(err: ConversionError, file: string, tensor?: string): void {
  expect(err.message).not.toContain('\n');
  expect(err.message.startsWith(`${file}`), err.message).toBe(true);
  if (tensor !== undefined) expect(err.message).toContain(`tensor ${tensor}`);
  expect(err.message).toMatch(/; expected .+; found .+/);
}
