import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConversionError, EnvironmentError } from '../../src/core/errors.ts';
import {
  createNodeOutputTarget,
  NodeFileSink,
  NodeFileSource,
  nodeByteSource,
  openNodeInput,
} from '../../src/platform/node/node-files.ts';

let root: string;
let work: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-files-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));
beforeEach(async () => {
  work = path.join(root, `case-${counter++}`);
  await mkdir(work);
});

const pattern = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 7) & 255);

describe('NodeFileSource', () => {
  it('reads windows at offsets, opening the file only on the first read', async () => {
    const file = path.join(work, 'a.bin');
    await writeFile(file, pattern(1000));
    const source = await nodeByteSource(file);
    expect([source.name, source.size, source.isOpen]).toEqual(['a.bin', 1000, false]);
    expect(await source.read(100, 5)).toEqual(pattern(1000).subarray(100, 105));
    expect(source.isOpen).toBe(true);
    expect((await source.read(1000, 0)).length).toBe(0);
    await source.close();
    expect(source.isOpen).toBe(false);
    // Closing is not final: a later read opens the file again.
    expect(await source.read(0, 3)).toEqual(pattern(3));
    await source.close();
  });

  it('serves concurrent reads from one handle', async () => {
    const file = path.join(work, 'a.bin');
    await writeFile(file, pattern(4096));
    const source = await nodeByteSource(file, 'custom-name');
    expect(source.name).toBe('custom-name');
    const windows = await Promise.all(Array.from({ length: 16 }, (_, i) => source.read(i * 256, 256)));
    windows.forEach((w, i) => expect(w).toEqual(pattern(4096).subarray(i * 256, (i + 1) * 256)));
    await source.close();
  });

  it('refuses ranges past the end or malformed', async () => {
    const file = path.join(work, 'a.bin');
    await writeFile(file, pattern(10));
    const source = await nodeByteSource(file);
    await expect(source.read(5, 6)).rejects.toThrow(/a.bin: read \[5, 11\) past its 10 bytes/);
    await expect(source.read(-1, 1)).rejects.toThrow(RangeError);
    await expect(source.read(0, 1.5)).rejects.toThrow(RangeError);
  });

  it('reports a file that shrank after it was opened', async () => {
    const file = path.join(work, 'a.bin');
    await writeFile(file, pattern(100));
    const source = await nodeByteSource(file);
    await writeFile(file, pattern(10));
    const err = await source.read(0, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as Error).message).toMatch(
      /^a.bin: file is shorter .*; expected 100 bytes; found end of file at 10$/,
    );
    await source.close();
  });

  it('refuses a folder', async () => {
    await expect(NodeFileSource.open(work)).rejects.toThrow(/not a regular file/);
  });
});

describe('openNodeInput', () => {
  beforeEach(async () => {
    await writeFile(path.join(work, 'config.json'), '{"a": 1}');
    await writeFile(path.join(work, 'model.safetensors'), pattern(64));
    await writeFile(path.join(work, 'model.safetensors.index.json'), '{}');
    await mkdir(path.join(work, 'onnx'));
    await writeFile(path.join(work, 'onnx', 'nested.bin'), 'x');
  });

  it('for a folder: lists its files (not subfolders), no entry', async () => {
    const input = await openNodeInput(work);
    expect(input.entry).toBeUndefined();
    expect(input.folder).toBe(work);
    expect(input.list()).toEqual(['config.json', 'model.safetensors', 'model.safetensors.index.json']);
    await input.close();
  });

  it('for a file: the file is the entry and its siblings are listed', async () => {
    for (const name of ['model.safetensors', 'model.safetensors.index.json']) {
      const input = await openNodeInput(path.join(work, name));
      expect(input.entry).toBe(name);
      expect(input.list()).toContain('config.json');
      await input.close();
    }
  });

  it('follows symlinked files, as in a Hugging Face cache snapshot', async () => {
    const blobs = path.join(work, 'onnx');
    await symlink(path.join(blobs, 'nested.bin'), path.join(work, 'linked.safetensors'));
    const input = await openNodeInput(work);
    expect(input.list()).toContain('linked.safetensors');
    expect(new TextDecoder().decode(await (await input.open('linked.safetensors'))!.read(0, 1))).toBe('x');
    await input.close();
  });

  it('opens files lazily, once, and closes them all', async () => {
    const input = await openNodeInput(work);
    const a = (await input.open('model.safetensors')) as NodeFileSource;
    expect(await input.open('model.safetensors')).toBe(a);
    expect(a.size).toBe(64);
    expect(a.isOpen).toBe(false);
    expect(await a.read(8, 4)).toEqual(pattern(64).subarray(8, 12));
    expect(a.isOpen).toBe(true);
    await input.close();
    expect(a.isOpen).toBe(false);
  });

  it('returns undefined for names it does not hold', async () => {
    const input = await openNodeInput(work);
    expect(await input.open('missing.safetensors')).toBeUndefined();
    expect(await input.open('../secret')).toBeUndefined();
    expect(await input.open('onnx/nested.bin')).toBeUndefined();
    await input.close();
  });

  it('names the path when there is nothing there', async () => {
    const missing = path.join(work, 'nope', 'model.safetensors');
    const err = await openNodeInput(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConversionError);
    expect((err as Error).message).toBe(
      `${missing}: input not found; expected a .safetensors file, a *.safetensors.index.json or a model folder; found nothing at that path`,
    );
  });
});

describe('NodeFileSink', () => {
  it('coalesces many small writes and bypasses the buffer for big ones, keeping order', async () => {
    const file = path.join(work, 'out.bin');
    const sink = await NodeFileSink.create(file, 64);
    const expected: number[] = [];
    const scratch = new Uint8Array(200);
    for (let i = 0; i < 500; i++) {
      const n = (i * 37) % 150; // from 0 up to well past the 64-byte buffer
      const bytes = scratch.subarray(0, n);
      bytes.set(pattern(n, i));
      await sink.write(bytes);
      expected.push(...bytes);
      // The caller may reuse its buffer once write resolves.
      bytes.fill(0xee);
    }
    expect(sink.bytesWritten).toBe(expected.length);
    await sink.close();
    await sink.close();
    expect(new Uint8Array(await readFile(file))).toEqual(Uint8Array.from(expected));
  });

  it('writes nothing for an empty file and refuses writes after close', async () => {
    const file = path.join(work, 'empty.bin');
    const sink = await NodeFileSink.create(file);
    await sink.close();
    expect((await readFile(file)).length).toBe(0);
    await expect(sink.write(new Uint8Array(1))).rejects.toThrow(/after close/);
  });
});

describe('createNodeOutputTarget', () => {
  const entries = (dir: string) => readdir(dir).then((n) => n.sort());

  it('stages outputs out of sight and renames them into place on commit', async () => {
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    expect(target.outputDir).toBe(work);
    expect(path.basename(target.stagingDir)).toMatch(/^\.model\.onnx\.partial-[0-9a-f]{12}$/);

    const onnx = await target.create('model.onnx');
    await onnx.write(pattern(100));
    const data = await target.create('onnx/model.onnx_data');
    await data.write(pattern(10, 3));
    await data.close();

    // Before commit: nothing under a final name; the staged file is there by path.
    expect(await entries(work)).toEqual([path.basename(target.stagingDir)]);
    expect(new Uint8Array(await readFile(target.stagedPath('onnx/model.onnx_data')))).toEqual(pattern(10, 3));

    await target.commit();
    expect(await entries(work)).toEqual(['model.onnx', 'onnx']);
    expect(new Uint8Array(await readFile(path.join(work, 'model.onnx')))).toEqual(pattern(100));
    expect(new Uint8Array(await readFile(path.join(work, 'onnx', 'model.onnx_data')))).toEqual(
      pattern(10, 3),
    );
  });

  it('overwrites earlier outputs of the same names and leaves other files alone', async () => {
    await writeFile(path.join(work, 'model.onnx'), 'old');
    await writeFile(path.join(work, 'notes.txt'), 'keep');
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    const sink = await target.create('model.onnx');
    await sink.write(new TextEncoder().encode('new'));
    await target.commit();
    expect(await readFile(path.join(work, 'model.onnx'), 'utf8')).toBe('new');
    expect(await readFile(path.join(work, 'notes.txt'), 'utf8')).toBe('keep');
    expect(await entries(work)).toEqual(['model.onnx', 'notes.txt']);
  });

  it('discard removes everything, keeps earlier outputs, and can be called again', async () => {
    await writeFile(path.join(work, 'model.onnx'), 'old');
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    const sink = await target.create('model.onnx');
    await sink.write(pattern(1 << 16));
    await target.discard();
    await target.discard();
    expect(await entries(work)).toEqual(['model.onnx']);
    expect(await readFile(path.join(work, 'model.onnx'), 'utf8')).toBe('old');
    await expect(target.commit()).rejects.toThrow(/commit after discarded/);
    await expect(target.create('x')).rejects.toThrow(/after discarded/);
  });

  it('discard after commit changes nothing', async () => {
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    await (await target.create('model.onnx')).close();
    await target.commit();
    await target.discard();
    expect(await entries(work)).toEqual(['model.onnx']);
  });

  it('opens closed staged files for reading back before commit', async () => {
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    const sink = await target.create('model.onnx');
    await sink.write(pattern(300));
    await expect(target.open('model.onnx')).rejects.toThrow(/before its sink was closed/);
    await sink.close();
    const source = (await target.open('model.onnx'))!;
    expect(source.size).toBe(300);
    expect(await source.read(290, 10)).toEqual(pattern(300).subarray(290));
    expect(await target.open('other.bin')).toBeUndefined();
    await target.commit();
    expect(source.isOpen).toBe(false);
    await expect(target.open('model.onnx')).rejects.toThrow(/after commit/);
  });

  it('makes an output folder that does not exist yet, only on first create', async () => {
    const out = path.join(work, 'new', 'dir', 'model.onnx');
    const target = createNodeOutputTarget(out);
    expect(await entries(work)).toEqual([]);
    await (await target.create('model.onnx')).close();
    await target.commit();
    expect(await entries(path.dirname(out))).toEqual(['model.onnx']);
  });

  it.each(['../escape.onnx', '/abs.onnx', '', 'a//b', './a', 'a\\b'])(
    'refuses the output name %j',
    async (name) => {
      const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
      await expect(target.create(name)).rejects.toThrow(/not a relative file name/);
      await target.discard();
      expect(await entries(work)).toEqual([]);
    },
  );

  it('refuses creating the same name twice', async () => {
    const target = createNodeOutputTarget(path.join(work, 'model.onnx'));
    await target.create('model.onnx');
    await expect(target.create('model.onnx')).rejects.toThrow(/created twice/);
    await target.discard();
  });

  it('a disk that fills up after N bytes: one environment error naming the final path; discard leaves nothing', async () => {
    // Every FileHandle write goes through this prototype: fail them with ENOSPC once 1 MB is out.
    const handle = await open(fileURLToPath(import.meta.url), 'r');
    const proto = Object.getPrototypeOf(handle) as FileHandle;
    await handle.close();
    let written = 0;
    const real = proto.write;
    const spy = vi.spyOn(proto, 'write').mockImplementation(async function (
      this: FileHandle,
      ...args: unknown[]
    ) {
      const n = args[2] as number;
      if (written + n > 1 << 20)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      written += n;
      return (real as (...a: unknown[]) => ReturnType<FileHandle['write']>).apply(this, args);
    } as FileHandle['write']);
    try {
      const out = path.join(work, 'new', 'model.onnx');
      const target = createNodeOutputTarget(out, { bufferBytes: 256 << 10 });
      const sink = await target.create('model.onnx');
      let err: unknown;
      try {
        for (let i = 0; i < 16; i++) await sink.write(pattern(256 << 10, i));
        await sink.close();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as EnvironmentError).details).toMatchObject({ path: out, code: 'ENOSPC' });
      expect((err as Error).message).toMatch(
        /model\.onnx: cannot write: the disk is full \(ENOSPC\); free space/,
      );
      expect(written).toBe(1 << 20);
      await target.discard();
      // The staging folder and the folder the target made for it are gone; the case folder is as it was.
      expect(await entries(work)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
