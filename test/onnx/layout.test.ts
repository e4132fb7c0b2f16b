import { describe, expect, it } from 'vitest';
import { ConversionError } from '../../src/core/errors.ts';
import type { WeightSpec } from '../../src/core/onnx/graph.ts';
import { DEFAULT_INLINE_LIMIT, planLayout, type Layout } from '../../src/core/onnx/layout.ts';

const GiB = 2 ** 30;

function u8(name: string, bytes: number): WeightSpec {
  return { name, type: 'uint8', dims: [bytes], byteLength: bytes };
}

/** Every external tensor inside its file, aligned, and no two overlapping. */
function expectSound(layout: Layout, align: number, maxFileBytes: number): void {
  const byFile = new Map<number, [number, number][]>();
  for (const p of layout.placements) {
    if (!p.external) continue;
    const { file, offset } = p.external;
    expect(offset % align, p.name).toBe(0);
    expect(offset + p.byteLength).toBeLessThanOrEqual(layout.dataFiles[file].bytes);
    byFile.set(file, [...(byFile.get(file) ?? []), [offset, offset + p.byteLength]]);
  }
  for (const f of layout.dataFiles) expect(f.bytes).toBeLessThanOrEqual(maxFileBytes);
  for (const ranges of byFile.values()) {
    ranges.sort((a, b) => a[0] - b[0]);
    ranges.slice(1).forEach((r, i) => expect(r[0]).toBeGreaterThanOrEqual(ranges[i][1]));
  }
}

describe('planLayout', () => {
  const weights = [u8('a', 5000), u8('tiny', 10), u8('b', 3000), u8('empty', 0), u8('c', 9000), u8('d', 100)];

  it('keeps everything inline with never, and with auto when it fits', () => {
    for (const external of ['never', 'auto'] as const) {
      const layout = planLayout(weights, { modelFile: 'model.onnx', external });
      expect(layout.dataFiles).toEqual([]);
      expect(layout.placements.every((p) => !p.external)).toBe(true);
      expect(layout.placements.map((p) => p.name)).toEqual(weights.map((w) => w.name));
    }
  });

  it('aligns every external tensor and keeps weights under 1 KiB inline', () => {
    const layout = planLayout(weights, { modelFile: 'model.onnx', external: 'always' });
    expect(layout.placements.map((p) => p.external ?? null)).toEqual([
      { file: 0, offset: 0 },
      null,
      { file: 0, offset: 8192 },
      null,
      { file: 0, offset: 12288 },
      null,
    ]);
    expect(layout.dataFiles).toEqual([
      { name: 'model.onnx_data', location: 'model.onnx_data', bytes: 21288 },
    ]);
    expectSound(layout, 4096, 2 * GiB);
    const custom = planLayout(weights, {
      modelFile: 'model.onnx',
      external: 'always',
      align: 64,
      inlineBelow: 0,
    });
    expect(custom.placements.filter((p) => !p.external).map((p) => p.name)).toEqual(['empty']);
    expectSound(custom, 64, 2 * GiB);
  });

  it('splits into model.onnx_data, _1, _2 at maxFileBytes without splitting a tensor', () => {
    const opts = { modelFile: 'onnx/model.onnx', external: 'always', maxFileBytes: 9000 } as const;
    const layout = planLayout(weights, opts);
    expect(layout.dataFiles).toEqual([
      { name: 'onnx/model.onnx_data', location: 'model.onnx_data', bytes: 5000 },
      { name: 'onnx/model.onnx_data_1', location: 'model.onnx_data_1', bytes: 3000 },
      { name: 'onnx/model.onnx_data_2', location: 'model.onnx_data_2', bytes: 9000 },
    ]);
    // b would end at 8192 + 3000 > 9000 in the first file, so it opens the second.
    expect(layout.placements.map((p) => p.external ?? null).filter(Boolean)).toEqual([
      { file: 0, offset: 0 },
      { file: 1, offset: 0 },
      { file: 2, offset: 0 },
    ]);
    const packed = planLayout(weights, { ...opts, align: 1000 });
    expect(packed.dataFiles.map((f) => f.bytes)).toEqual([8000, 9000]);
    expectSound(layout, 4096, 9000);
    expect(planLayout(weights, opts)).toEqual(layout);
  });

  it('decides external at the protobuf limit in auto mode, and splits at 2 GiB', () => {
    const big = [u8('e', 1.5 * GiB), u8('f', 0.75 * GiB), u8('g', 0.25 * GiB)];
    const layout = planLayout(big, { modelFile: 'model.onnx', external: 'auto' });
    expect(layout.dataFiles.map((f) => [f.name, f.bytes])).toEqual([
      ['model.onnx_data', 1.5 * GiB],
      ['model.onnx_data_1', 1 * GiB],
    ]);
    expectSound(layout, 4096, 2 * GiB);
    const justFits = [u8('h', DEFAULT_INLINE_LIMIT - 64)];
    expect(planLayout(justFits, { modelFile: 'm.onnx', external: 'auto' }).dataFiles).toEqual([]);
  });

  it('refuses what cannot be placed, naming file and tensor', () => {
    const huge = [u8('h', 3 * GiB)];
    expect(() => planLayout(huge, { modelFile: 'm.onnx', external: 'never' })).toThrow(ConversionError);
    expect(() => planLayout(huge, { modelFile: 'm.onnx', external: 'never' })).toThrow(
      /m\.onnx: the weights do not fit in one protobuf file; use external data/,
    );
    expect(() => planLayout(huge, { modelFile: 'm.onnx', external: 'auto' })).toThrow(
      /m\.onnx, tensor h: weight is larger than one external data file may be; expected at most 2147483648 bytes; found 3221225472 bytes/,
    );
    expect(() => planLayout(weights, { modelFile: 'm.onnx', external: 'always', align: 0 })).toThrow(
      /positive/,
    );
    expect(() => planLayout(weights, { modelFile: '', external: 'always' })).toThrow(/model file name/);
  });
});
