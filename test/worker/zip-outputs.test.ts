/**
 * "Download all" in Node (the same client-zip the page's worker runs): entries are opened one at a time
 * as the zip asks for them, the zip is stored (no compression) and a real unzip (Python's zipfile)
 * reads back every byte; a cancel abandons the sink; the zip is named after the picked folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConversionAborted } from '../../src/core/errors.ts';
import { writeZip, zipNameFor, type ZipEntry } from '../../src/worker/zip-outputs.ts';

const root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-zip-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A sink keeping what it is given, and whether it was closed or abandoned. */
function memorySink() {
  const chunks: Uint8Array[] = [];
  const sink = {
    state: 'open' as 'open' | 'closed' | 'abandoned',
    write: async (bytes: Uint8Array) => void chunks.push(bytes.slice()),
    close: async () => void (sink.state = 'closed'),
    abandon: async () => void (sink.state = 'abandoned'),
    bytes: () => Buffer.concat(chunks),
  };
  return sink;
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('writeZip', () => {
  it('streams the entries into a stored zip that python3 extracts byte for byte, opening each only when needed', async () => {
    const content: Record<string, Uint8Array> = {
      'm-onnx/onnx/model_q2.onnx': bytes(300_000, 1),
      'm-onnx/config.json': new TextEncoder().encode('{"model_type":"llama"}\n'),
      'm-onnx/tokenizer.json': bytes(5000, 2),
    };
    const opened: string[] = [];
    const entries: ZipEntry[] = Object.entries(content).map(([name, data]) => ({
      name,
      file: async () => {
        opened.push(name);
        return new File([data as Uint8Array<ArrayBuffer>], name.split('/').at(-1)!, { lastModified: 0 });
      },
    }));
    const sink = memorySink();
    const writing = writeZip(entries, sink);
    expect(opened.length).toBeLessThanOrEqual(1);
    await writing;
    expect(sink.state).toBe('closed');
    expect(opened).toEqual(Object.keys(content));

    const zip = path.join(root, 'm-onnx.zip');
    writeFileSync(zip, sink.bytes());
    const info = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.compress_type, i.file_size, i.filename)',
        zip,
      ],
      { encoding: 'utf8' },
    );
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout.trim().split('\n')).toEqual(
      Object.entries(content).map(([name, data]) => `0 ${data.length} ${name}`),
    );
    const out = path.join(root, 'x');
    const unzip = spawnSync('/usr/bin/python3', ['-m', 'zipfile', '-e', zip, out], { encoding: 'utf8' });
    expect(unzip.status, unzip.stderr).toBe(0);
    for (const [name, data] of Object.entries(content)) {
      expect(readFileSync(path.join(out, name)).equals(Buffer.from(data)), name).toBe(true);
    }
  });

  it('a cancel stops it and abandons the sink', async () => {
    const abort = new AbortController();
    const entries: ZipEntry[] = [1, 2, 3].map((i) => ({
      name: `f${i}`,
      file: async () => {
        if (i === 2) abort.abort();
        return new File([bytes(1000, i) as Uint8Array<ArrayBuffer>], `f${i}`);
      },
    }));
    const sink = memorySink();
    await expect(writeZip(entries, sink, abort.signal)).rejects.toBeInstanceOf(ConversionAborted);
    expect(sink.state).toBe('abandoned');
  });
});

describe('zipNameFor', () => {
  it('names the zip after the picked folder, else bitnet-onnx; characters file systems refuse become _', () => {
    expect(zipNameFor(['tiny-bitnet/config.json', 'tiny-bitnet/model.safetensors'])).toBe('tiny-bitnet-onnx');
    expect(zipNameFor(['config.json', 'model.safetensors'])).toBe('bitnet-onnx');
    expect(zipNameFor(['a/config.json', 'b/model.safetensors'])).toBe('bitnet-onnx');
    expect(zipNameFor(['we:ird?/model.safetensors', 'we:ird?/config.json'])).toBe('we_ird_-onnx');
  });
});
