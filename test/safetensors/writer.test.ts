import { describe, expect, it } from 'vitest';
import type { ByteSink } from '../../src/core/io/bytes.ts';
import { readSafetensorsHeader } from '../../src/core/safetensors/header.ts';
import { readTensorBytes } from '../../src/core/safetensors/checkpoint.ts';
import {
  encodeSafetensorsHeader,
  writeSafetensors,
  type SafetensorsTensorSpec,
} from '../../src/core/safetensors/writer.ts';
import { MemorySource } from './memory-files.ts';

/** Records every write (copied, since a sink may not keep references) and whether it was closed. */
class RecordingSink implements ByteSink {
  writes: Uint8Array[] = [];
  closed = false;
  async write(bytes: Uint8Array): Promise<void> {
    this.writes.push(bytes.slice());
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.writes.reduce((n, w) => n + w.length, 0));
    let at = 0;
    for (const w of this.writes) {
      out.set(w, at);
      at += w.length;
    }
    return out;
  }
}

/** A tensor whose byte i is (seed + i) & 255, emitted in pieces of `piece` bytes from one reused buffer. */
function patterned(
  name: string,
  dtype: SafetensorsTensorSpec['dtype'],
  shape: number[],
  seed: number,
  piece = 7,
): SafetensorsTensorSpec {
  const size = { U8: 1, BF16: 2, F32: 4 }[dtype as 'U8' | 'BF16' | 'F32'];
  const byteLength = shape.reduce((a, b) => a * b, size);
  return {
    name,
    dtype,
    shape,
    byteLength,
    async fill(emit) {
      const scratch = new Uint8Array(piece);
      for (let at = 0; at < byteLength; at += piece) {
        const n = Math.min(piece, byteLength - at);
        for (let i = 0; i < n; i++) scratch[i] = (seed + at + i) & 255;
        await emit(scratch.subarray(0, n));
      }
    },
  };
}

const SEEDS = [1, 50, 99, 0, 200];
const TENSORS = [
  patterned('model.embed_tokens.weight', 'BF16', [10, 6], SEEDS[0]),
  patterned('model.layers.0.self_attn.q_proj.weight', 'U8', [3, 6], SEEDS[1]),
  patterned('model.layers.0.self_attn.q_proj.weight_scale', 'BF16', [1], SEEDS[2]),
  patterned('empty', 'F32', [0], SEEDS[3]),
  patterned('model.norm.weight', 'F32', [6], SEEDS[4]),
];

describe('writeSafetensors', () => {
  it('round-trips through the reader: names, dtypes, shapes and bytes', async () => {
    const sink = new RecordingSink();
    const written = await writeSafetensors(sink, TENSORS, { format: 'pt' });
    const file = sink.bytes();
    expect(written.totalBytes).toBe(file.length);
    expect(sink.closed).toBe(false);

    const header = await readSafetensorsHeader(new MemorySource('out.safetensors', file));
    expect(header.headerLength).toBe(written.headerLength);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(
      TENSORS.map((t) => [t.name, t.dtype, t.shape]),
    );
    for (const [i, t] of header.tensors.entries()) {
      const bytes = await readTensorBytes(t, 0, t.byteLength);
      const expected = Uint8Array.from({ length: t.byteLength }, (_, j) => (SEEDS[i] + j) & 255);
      expect(bytes).toEqual(expected);
    }
  });

  it('pads the header with spaces to a multiple of 8, so data starts aligned', async () => {
    for (let extra = 0; extra < 9; extra++) {
      const header = encodeSafetensorsHeader([{ ...TENSORS[1], name: 'x'.repeat(extra + 1) }]);
      const length = Number(new DataView(header.buffer).getBigUint64(0, true));
      expect(length % 8).toBe(0);
      expect(header.length).toBe(8 + length);
      const text = new TextDecoder().decode(header.subarray(8));
      expect(text).toMatch(/^\{.*\} *$/);
      expect(JSON.parse(text)).toEqual({
        ['x'.repeat(extra + 1)]: { dtype: 'U8', shape: [3, 6], data_offsets: [0, 18] },
      });
    }
  });

  it('streams: the header goes first, then each emitted piece as it comes, nothing whole', async () => {
    const sink = new RecordingSink();
    await writeSafetensors(sink, [patterned('big', 'U8', [1000], 0, 64)]);
    const header = encodeSafetensorsHeader([patterned('big', 'U8', [1000], 0)]);
    expect(sink.writes[0]).toEqual(header);
    expect(sink.writes.slice(1).map((w) => w.length)).toEqual([...Array(15).fill(64), 40]);
  });

  it('leaves __metadata__ out when there is none', () => {
    const text = new TextDecoder().decode(encodeSafetensorsHeader([TENSORS[1]]).subarray(8));
    expect(text).not.toContain('__metadata__');
  });

  it('refuses a declared length that is not dtype size × product(shape)', async () => {
    const bad = { ...TENSORS[0], byteLength: 10 };
    await expect(writeSafetensors(new RecordingSink(), [bad])).rejects.toThrow(
      /model.embed_tokens.weight is BF16 \[10, 6\] = 120 bytes, not 10/,
    );
  });

  it('refuses a fill that emits too few or too many bytes', async () => {
    const short = {
      ...TENSORS[1],
      fill: async (emit: (b: Uint8Array) => Promise<void>) => emit(new Uint8Array(5)),
    };
    await expect(writeSafetensors(new RecordingSink(), [short])).rejects.toThrow(/emitted 5 of its 18 bytes/);
    const long = {
      ...TENSORS[1],
      fill: async (emit: (b: Uint8Array) => Promise<void>) => emit(new Uint8Array(19)),
    };
    await expect(writeSafetensors(new RecordingSink(), [long])).rejects.toThrow(/more than its 18 bytes/);
  });

  it('refuses duplicate names', async () => {
    await expect(writeSafetensors(new RecordingSink(), [TENSORS[1], TENSORS[1]])).rejects.toThrow(
      /duplicate/,
    );
  });
});
