import { describe, expect, it } from 'vitest';
import {
  openCheckpoint,
  readTensorBytes,
  resolveCheckpointEntry,
} from '../../src/core/safetensors/checkpoint.ts';
import type { SafetensorsTensorSpec } from '../../src/core/safetensors/writer.ts';
import { safetensorsBytes } from '../../scripts/make-fixtures.ts';
import { conversionError, expectWellFormed, memoryFiles } from './memory-files.ts';

/** A U8 tensor of `n` bytes whose byte i is (seed + i) & 255. */
function tensor(name: string, n: number, seed = 0): SafetensorsTensorSpec {
  return {
    name,
    dtype: 'U8',
    shape: [n],
    byteLength: n,
    fill: (emit) => emit(Uint8Array.from({ length: n }, (_, i) => (seed + i) & 255)),
  };
}

const A = tensor('a.weight', 100, 1);
const B = tensor('b.weight', 300, 2);
const C = tensor('c.weight', 50, 3);

const index = (map: Record<string, string>) =>
  JSON.stringify({ metadata: { total_size: 450 }, weight_map: map });

async function shardedFiles(extra: Record<string, Uint8Array | string> = {}) {
  return memoryFiles({
    'config.json': '{}',
    'model-00001-of-00002.safetensors': await safetensorsBytes([A, B]),
    'model-00002-of-00002.safetensors': await safetensorsBytes([C]),
    'model.safetensors.index.json': index({
      'a.weight': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00001-of-00002.safetensors',
      'c.weight': 'model-00002-of-00002.safetensors',
    }),
    ...extra,
  });
}

describe('resolveCheckpointEntry', () => {
  const files = (names: string[], entry?: string) =>
    memoryFiles(Object.fromEntries(names.map((n) => [n, ''])), entry);

  it('takes the file the user pointed at when it is a checkpoint', () => {
    expect(resolveCheckpointEntry(files(['x.safetensors', 'model.safetensors'], 'x.safetensors'))).toBe(
      'x.safetensors',
    );
    expect(resolveCheckpointEntry(files(['a.safetensors.index.json'], 'a.safetensors.index.json'))).toBe(
      'a.safetensors.index.json',
    );
  });

  it('falls back to the folder when the user pointed at another file (config.json)', () => {
    expect(resolveCheckpointEntry(files(['config.json', 'model.safetensors'], 'config.json'))).toBe(
      'model.safetensors',
    );
  });

  it('refuses a pointed-at file of another format rather than converting a neighbour', async () => {
    const err = await conversionError(async () =>
      resolveCheckpointEntry(files(['pytorch_model.bin', 'model.safetensors'], 'pytorch_model.bin')),
    );
    expectWellFormed(err, 'pytorch_model.bin');
    expect(err.message).toContain('not a safetensors checkpoint');
    expect(err.message).toContain('found a .bin file');
  });

  it('prefers the index, then model.safetensors, then the only candidate', () => {
    expect(
      resolveCheckpointEntry(files(['model.safetensors', 'model.safetensors.index.json', 'x.safetensors'])),
    ).toBe('model.safetensors.index.json');
    expect(resolveCheckpointEntry(files(['model.safetensors', 'x.safetensors']))).toBe('model.safetensors');
    expect(resolveCheckpointEntry(files(['config.json', 'weights.safetensors']))).toBe('weights.safetensors');
    expect(resolveCheckpointEntry(files(['a-1.safetensors', 'a.safetensors.index.json']))).toBe(
      'a.safetensors.index.json',
    );
  });

  it('says what it looked for when the folder has no checkpoint', async () => {
    const err = await conversionError(async () =>
      resolveCheckpointEntry(files(['config.json', 'README.md'])),
    );
    expect(err.message).toBe(
      'no safetensors checkpoint found; expected model.safetensors, model.safetensors.index.json or a single *.safetensors; found README.md, config.json',
    );
  });

  it('refuses to guess between several checkpoints', async () => {
    const err = await conversionError(async () =>
      resolveCheckpointEntry(files(['a.safetensors', 'b.safetensors'])),
    );
    expect(err.message).toContain('cannot tell which safetensors file is the model');
    expect(err.message).toContain('found a.safetensors, b.safetensors');
  });
});

describe('openCheckpoint', () => {
  it('opens a single file and exposes every tensor as a window', async () => {
    const files = memoryFiles({ 'model.safetensors': await safetensorsBytes([A, B, C]) });
    const ckpt = await openCheckpoint(files);
    expect(ckpt.files).toEqual(['model.safetensors']);
    expect(ckpt.index).toBeUndefined();
    expect([...ckpt.tensors.keys()]).toEqual(['a.weight', 'b.weight', 'c.weight']);
    expect(ckpt.totalBytes).toBe(450);
    expect(ckpt.get('b.weight')?.shape).toEqual([300]);
    expect(ckpt.get('nope')).toBeUndefined();
  });

  it('reads only the header when opening, and only the window asked for afterwards', async () => {
    const bytes = await safetensorsBytes([A, B, C]);
    const files = memoryFiles({ 'model.safetensors': bytes });
    const ckpt = await openCheckpoint(files);
    const headerBytes = bytes.length - 450;
    expect(files.bytesRead()).toBe(headerBytes);

    const window = await readTensorBytes(ckpt.get('b.weight')!, 10, 20);
    expect([...window]).toEqual(Array.from({ length: 20 }, (_, i) => (2 + 10 + i) & 255));
    expect(files.bytesRead()).toBe(headerBytes + 20);
  });

  it('resolves a sharded checkpoint through its index, reading headers only', async () => {
    const files = await shardedFiles();
    const ckpt = await openCheckpoint(files);
    expect(ckpt.index).toBe('model.safetensors.index.json');
    expect(ckpt.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ckpt.get('c.weight')?.source.name).toBe('model-00002-of-00002.safetensors');
    expect(ckpt.totalBytes).toBe(450);
    const indexSize = files.sources.get('model.safetensors.index.json')!.size;
    const shardHeaders =
      files.sources.get('model-00001-of-00002.safetensors')!.size -
      400 +
      files.sources.get('model-00002-of-00002.safetensors')!.size -
      50;
    expect(files.bytesRead()).toBe(indexSize + shardHeaders);
    expect([...(await readTensorBytes(ckpt.get('c.weight')!, 0, 3))]).toEqual([3, 4, 5]);
  });

  it('takes only the tensors the index lists (the index is authoritative)', async () => {
    const files = await shardedFiles({
      'model.safetensors.index.json': index({
        'a.weight': 'model-00001-of-00002.safetensors',
        'c.weight': 'model-00002-of-00002.safetensors',
      }),
    });
    expect([...(await openCheckpoint(files)).tensors.keys()]).toEqual(['a.weight', 'c.weight']);
  });

  it('names the index and the shard when a shard is missing', async () => {
    const files = await shardedFiles();
    files.sources.delete('model-00002-of-00002.safetensors');
    const err = await conversionError(() => openCheckpoint(files));
    expectWellFormed(err, 'model.safetensors.index.json', 'c.weight');
    expect(err.message).toContain('shard listed in the index is missing');
    expect(err.message).toContain('expected file model-00002-of-00002.safetensors');
  });

  it('names the index, tensor and shard when a listed tensor is not in its shard', async () => {
    const files = await shardedFiles({
      'model.safetensors.index.json': index({
        'a.weight': 'model-00001-of-00002.safetensors',
        'b.weight': 'model-00002-of-00002.safetensors',
        'c.weight': 'model-00002-of-00002.safetensors',
      }),
    });
    const err = await conversionError(() => openCheckpoint(files));
    expectWellFormed(err, 'model.safetensors.index.json', 'b.weight');
    expect(err.message).toContain('expected tensor in model-00002-of-00002.safetensors');
  });

  it('reports shard header errors against the shard file', async () => {
    const broken = await safetensorsBytes([C]);
    new DataView(broken.buffer).setBigUint64(0, 1n << 40n, true);
    const err = await conversionError(async () =>
      openCheckpoint(await shardedFiles({ 'model-00002-of-00002.safetensors': broken })),
    );
    expectWellFormed(err, 'model-00002-of-00002.safetensors');
  });

  it.each([
    ['not JSON', '{"weight_map": {', /index is not valid JSON/],
    ['without weight_map', '{"metadata": {}}', /index has no weight_map object; .*found no weight_map/],
    ['with a weight_map list', '{"weight_map": []}', /index has no weight_map object; .*found \[\]/],
    ['with a non-file shard', '{"weight_map": {"a.weight": 3}}', /tensor a.weight: weight_map entry is not/],
    ['escaping the folder', '{"weight_map": {"a.weight": "../x.safetensors"}}', /found "..\/x.safetensors"/],
  ])('rejects an index %s', async (_what, text, message) => {
    const err = await conversionError(async () =>
      openCheckpoint(await shardedFiles({ 'model.safetensors.index.json': text })),
    );
    expectWellFormed(err, 'model.safetensors.index.json');
    expect(err.message).toMatch(message);
  });
});

describe('readTensorBytes', () => {
  it('bounds-checks the window against the tensor, not the file', async () => {
    const ckpt = await openCheckpoint(memoryFiles({ 'model.safetensors': await safetensorsBytes([A, B]) }));
    const a = ckpt.get('a.weight')!;
    expect((await readTensorBytes(a, 100, 0)).length).toBe(0);
    expect((await readTensorBytes(a, 0, 100)).length).toBe(100);
    await expect(readTensorBytes(a, 1, 100)).rejects.toThrow(
      /a.weight: window \[1, 101\) is outside its 100 bytes/,
    );
    await expect(readTensorBytes(a, -1, 2)).rejects.toThrow(RangeError);
    await expect(readTensorBytes(a, 0.5, 2)).rejects.toThrow(RangeError);
  });

  it('reports a short read from a source that changed under us', async () => {
    const ckpt = await openCheckpoint(memoryFiles({ 'model.safetensors': await safetensorsBytes([A]) }));
    const a = ckpt.get('a.weight')!;
    const shrunk = {
      ...a,
      source: { ...a.source, name: 'model.safetensors', read: async () => new Uint8Array(3) },
    };
    const err = await conversionError(() => readTensorBytes(shrunk, 0, 10));
    expectWellFormed(err, 'model.safetensors', 'a.weight');
  });
});
