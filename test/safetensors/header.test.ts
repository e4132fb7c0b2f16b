import { describe, expect, it } from 'vitest';
import { MAX_HEADER_BYTES, readSafetensorsHeader } from '../../src/core/safetensors/header.ts';
import { conversionError, expectWellFormed, MemorySource } from './memory-files.ts';

const FILE = 'model.safetensors';

/** A file from raw header text and a data section of `dataBytes` bytes (value = index & 255). */
function fileWith(header: string | object, dataBytes = 64): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + json.length + i] = i & 255;
  return out;
}

const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

const VALID = {
  __metadata__: { format: 'pt', note: 'x', ignored: 5 },
  'b.weight': entry('BF16', [2, 4], [16, 32]),
  'a.weight': entry('U8', [4, 4], [0, 16]),
  'c.scale': entry('F32', [1], [32, 36]),
  empty: entry('F32', [0, 3], [36, 36]),
};

async function headerError(bytes: Uint8Array) {
  return conversionError(() => readSafetensorsHeader(new MemorySource(FILE, bytes)));
}

describe('readSafetensorsHeader', () => {
  it('turns every entry into a window with absolute offsets, in file order', async () => {
    const bytes = fileWith(VALID, 40);
    const header = await readSafetensorsHeader(new MemorySource(FILE, bytes));
    const headerLength = JSON.stringify(VALID).length;
    expect(header.file).toBe(FILE);
    expect(header.headerLength).toBe(headerLength);
    expect(header.dataStart).toBe(8 + headerLength);
    expect(header.metadata).toEqual({ format: 'pt', note: 'x' });
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape, t.byteOffset, t.byteLength])).toEqual([
      ['a.weight', 'U8', [4, 4], 8 + headerLength, 16],
      ['b.weight', 'BF16', [2, 4], 8 + headerLength + 16, 16],
      ['c.scale', 'F32', [1], 8 + headerLength + 32, 4],
      ['empty', 'F32', [0, 3], 8 + headerLength + 36, 0],
    ]);
    expect(header.tensors[0].source.name).toBe(FILE);
  });

  it('reads the length prefix and the header, never tensor data', async () => {
    const source = new MemorySource(FILE, fileWith(VALID, 1 << 16));
    const header = await readSafetensorsHeader(source);
    expect(source.reads).toEqual([
      [0, 8],
      [8, header.headerLength],
    ]);
    expect(source.bytesRead).toBe(8 + header.headerLength);
  });

  it('accepts an empty header object and a file with no tensors', async () => {
    const header = await readSafetensorsHeader(new MemorySource(FILE, fileWith({}, 0)));
    expect(header.tensors).toEqual([]);
  });

  it('rejects a file too short to hold the length prefix', async () => {
    const err = await headerError(new Uint8Array(5));
    expectWellFormed(err, FILE);
    expect(err.message).toMatch(/too short.*expected at least 8 bytes; found 5 bytes/);
  });

  it('rejects a header length past the end of the file', async () => {
    const bytes = fileWith(VALID, 40);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    const err = await headerError(bytes);
    expectWellFormed(err, FILE);
    expect(err.message).toContain('past the end');
    expect(err.message).toContain(`expected at most ${bytes.length - 8} bytes; found ${bytes.length} bytes`);
  });

  it('rejects an absurd header length before trusting it', async () => {
    const bytes = fileWith(VALID, 40);
    new DataView(bytes.buffer).setBigUint64(0, 0xffff_ffff_ffff_fff0n, true);
    const err = await headerError(bytes);
    expectWellFormed(err, FILE);
    expect(err.message).toMatch(
      new RegExp(`absurd.*; expected at most ${MAX_HEADER_BYTES} bytes; found 18446744073709551600 bytes`),
    );
  });

  it('rejects a header that is not JSON, with a one-line reason', async () => {
    const err = await headerError(fileWith('{"a.weight": {"dtype": "U8",\n\n "shape": [1]'));
    expectWellFormed(err, FILE);
    expect(err.message).toContain('not valid JSON');
  });

  it('rejects a header that is not UTF-8', async () => {
    const bytes = fileWith('{"a":1}');
    bytes[9] = 0xff;
    const err = await headerError(bytes);
    expectWellFormed(err, FILE);
    expect(err.message).toContain('not valid JSON; expected a UTF-8 JSON object');
  });

  it.each([
    ['[1, 2]', 'an array'],
    ['null', 'null'],
    ['42', 'number 42'],
    ['"text"', 'string "text"'],
  ])('rejects a header that is %s rather than an object', async (text, found) => {
    const err = await headerError(fileWith(text));
    expectWellFormed(err, FILE);
    expect(err.message).toContain(`not a JSON object; expected an object of tensor entries; found ${found}`);
  });

  it('rejects an entry that is not an object, naming the tensor', async () => {
    const err = await headerError(fileWith({ 'a.weight': [1, 2] }));
    expectWellFormed(err, FILE, 'a.weight');
  });

  it('rejects an unknown dtype, naming the tensor and the dtype', async () => {
    const err = await headerError(fileWith({ 'model.norm.weight': entry('Q4_0', [4], [0, 4]) }));
    expectWellFormed(err, FILE, 'model.norm.weight');
    expect(err.message).toMatch(/unknown dtype; expected one of BOOL, U8, .*BF16.*; found "Q4_0"$/);
  });

  it.each([
    ['a negative dimension', [4, -1]],
    ['a fractional dimension', [2.5]],
    ['a string', '4,4'],
    ['a string dimension', ['4']],
    ['missing', undefined],
  ])('rejects a shape with %s', async (_what, shape) => {
    const err = await headerError(fileWith({ 'a.weight': entry('U8', shape, [0, 4]) }));
    expectWellFormed(err, FILE, 'a.weight');
    expect(err.message).toContain('shape is not a list of non-negative integers');
  });

  it.each([
    ['begin after end', [8, 4]],
    ['one number', [4]],
    ['negative', [-4, 0]],
    ['missing', undefined],
  ])('rejects data_offsets that are %s', async (_what, offsets) => {
    const err = await headerError(fileWith({ 'a.weight': entry('U8', [4], offsets) }));
    expectWellFormed(err, FILE, 'a.weight');
    expect(err.message).toContain('data_offsets is not [begin, end]');
  });

  it('rejects data_offsets past the end of the file', async () => {
    const err = await headerError(fileWith({ 'a.weight': entry('U8', [16], [56, 72]) }, 64));
    expectWellFormed(err, FILE, 'a.weight');
    expect(err.message).toContain('past the end of the file; expected end <= 64; found [56, 72]');
  });

  it('rejects a byte length that is not dtype size × product(shape)', async () => {
    const err = await headerError(fileWith({ 'q.weight': entry('BF16', [4, 3], [0, 16]) }));
    expectWellFormed(err, FILE, 'q.weight');
    expect(err.message).toContain(
      'data length does not match dtype and shape; expected 24 bytes for BF16 [4, 3]; found 16 bytes',
    );
  });

  it('rejects overlapping tensors, naming both', async () => {
    const err = await headerError(
      fileWith({ 'q.weight': entry('U8', [16], [0, 16]), 'k.weight': entry('U8', [16], [8, 24]) }),
    );
    expectWellFormed(err, FILE, 'k.weight');
    expect(err.message).toContain(
      'data overlaps tensor q.weight; expected data_offsets to begin at or after 16',
    );
    expect(err.message).toContain('found data_offsets [8, 24]');
  });

  it('lets empty tensors sit anywhere, since they hold no bytes', async () => {
    const header = await readSafetensorsHeader(
      new MemorySource(
        FILE,
        fileWith({ 'q.weight': entry('U8', [16], [0, 16]), none: entry('U8', [0], [8, 8]) }),
      ),
    );
    expect(header.tensors.map((t) => t.name)).toEqual(['q.weight', 'none']);
  });

  it('keeps one-line messages even for long, multi-line values', async () => {
    const err = await headerError(fileWith({ 'a.weight': entry(`X\n${'y'.repeat(500)}`, [1], [0, 1]) }));
    expectWellFormed(err, FILE, 'a.weight');
    expect(err.message.length).toBeLessThan(400);
  });
});
