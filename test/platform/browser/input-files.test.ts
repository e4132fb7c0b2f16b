import { describe, expect, it } from 'vitest';
import { BlobSource } from '../../../src/platform/browser/blob-source.ts';
import { browserInputFiles, relativeNames } from '../../../src/platform/browser/input-files.ts';
import { ConversionError } from '../../../src/core/errors.ts';

describe('relativeNames', () => {
  it('strips the folder name a folder pick puts in front', () => {
    expect(relativeNames(['bitnet/config.json', 'bitnet/model.safetensors'])).toEqual([
      'config.json',
      'model.safetensors',
    ]);
  });

  it('keeps sub-folders below the shared one and accepts backslashes', () => {
    expect(relativeNames(['m\\config.json', 'm\\onnx\\x.json'])).toEqual(['config.json', 'onnx/x.json']);
  });

  it('leaves plain file names alone, including a single file from a folder', () => {
    expect(relativeNames(['model.safetensors'])).toEqual(['model.safetensors']);
    expect(relativeNames(['folder/model.safetensors'])).toEqual(['model.safetensors']);
    expect(relativeNames(['a/x', 'b/y'])).toEqual(['a/x', 'b/y']);
  });
});

describe('browserInputFiles', () => {
  const blob = (text: string) => new Blob([text]);

  it('lists relative names and opens each lazily', async () => {
    const input = browserInputFiles([
      { path: 'model/config.json', blob: blob('{}') },
      { path: 'model/model.safetensors', blob: blob('xyz') },
    ]);
    expect(input.list()).toEqual(['config.json', 'model.safetensors']);
    expect(input.entry).toBeUndefined();
    const source = await input.open('model.safetensors');
    expect(source?.size).toBe(3);
    expect(await input.open('model.safetensors')).toBe(source);
    expect(await input.open('missing.json')).toBeUndefined();
  });

  it('a lone picked file is the entry the engine starts from', () => {
    expect(browserInputFiles([{ path: 'weights.safetensors', blob: blob('') }]).entry).toBe(
      'weights.safetensors',
    );
  });
});

describe('BlobSource', () => {
  const source = new BlobSource(new Blob([new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7])]), 'x.safetensors');

  it('reads exactly the requested window', async () => {
    expect(Array.from(await source.read(2, 3))).toEqual([2, 3, 4]);
    expect(Array.from(await source.read(8, 0))).toEqual([]);
  });

  it('rejects windows outside the file', async () => {
    await expect(source.read(6, 3)).rejects.toThrow(RangeError);
    await expect(source.read(-1, 1)).rejects.toThrow(RangeError);
  });

  it('reports a file that became unreadable as the user’s problem, naming the file', async () => {
    const broken = new BlobSource(
      {
        size: 4,
        slice: () => ({
          arrayBuffer: () => Promise.reject(Object.assign(new Error('gone'), { name: 'NotReadableError' })),
        }),
      } as unknown as Blob,
      'model.safetensors',
    );
    const error = await broken.read(0, 4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConversionError);
    expect((error as Error).message).toMatch(/^model\.safetensors: cannot read the file/);
  });
});
