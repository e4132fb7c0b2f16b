import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Tensor } from '../../src/core/check/decoder-session.ts';
import { pinLayout } from '../../src/core/bitnet/decoder-graph.ts';
import { pinnedBlocks } from '../../src/core/formats/int2.ts';
import type { Kernels } from '../../src/core/kernels/kernels.ts';
import { GraphBuilder } from '../../src/core/onnx/graph.ts';
import { planLayout } from '../../src/core/onnx/layout.ts';
import { writeModel } from '../../src/core/onnx/writer.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { createNodeOutputTarget } from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';
import { freshDir } from '../onnx/targets.ts';

/**
 * docs/spec.md §7: MatMulNBits (bits 2, accuracy_level 4) re-quantises its input per block. Fed BitNet's
 * integer activations with one 127 pinned into every block (weight 0), its products equal the integer
 * products exactly; the same activations without pins do not.
 */
const N = 48;
const K = 700; // not a multiple of 127 or 128: exercises the padding of both layouts
const T = 5;

let kernels: Kernels;
let ternary: Int8Array;
let activations: Float32Array;

/** Deterministic integers: per-token absmax quantised rows with one ±127 each, as BitNet produces them. */
function makeInputs(): void {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  ternary = Int8Array.from({ length: N * K }, () => Math.floor(next() * 3) - 1);
  activations = new Float32Array(T * K);
  for (let t = 0; t < T; t++) {
    const spread = 5 + 40 * t;
    for (let k = 0; k < K; k++)
      activations[t * K + k] = Math.max(-127, Math.min(127, Math.round((next() * 2 - 1) * spread)));
    activations[t * K + ((t * 97) % K)] = t % 2 ? -127 : 127;
  }
}

function integerProduct(): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += activations[t * K + k] * ternary[n * K + k];
      out[t * N + n] = acc;
    }
  return out;
}

/** One MatMulNBits over X [T, K], pinned (blocks of bs − 1 values + pin) or plain (blocks of bs values). */
async function runProduct(bs: number, pinned: boolean): Promise<Float32Array> {
  const g = new GraphBuilder('product');
  g.useOpset('com.microsoft', 1);
  const x = g.input('x', 'float32', ['T', K]);
  const blocks = pinned ? pinnedBlocks(K, bs) : Math.ceil(K / bs);
  const codes = pinned
    ? kernels.packNBits2Pinned(ternary, N, K, bs).slice()
    : kernels.packNBits2(ternary, N, K, bs).slice();
  const w = g.weight({ name: 'w', type: 'uint8', dims: [N, blocks, bs / 4], byteLength: codes.byteLength });
  const scales = g.weight({
    name: 'scales',
    type: 'float32',
    dims: [N * blocks],
    byteLength: N * blocks * 4,
  });
  const input = pinned ? pinLayout(g, x, K, bs, 2) : x;
  const attrs = {
    K: { i: pinned ? blocks * bs : K },
    N: { i: N },
    bits: { i: 2 },
    block_size: { i: bs },
    accuracy_level: { i: 4 },
  };
  g.node('MatMulNBits', [input, w, scales], ['y'], attrs, 'com.microsoft');
  g.output('y', 'float32', ['T', N]);
  const ones = new Float32Array(N * blocks).fill(1);
  return runGraph(g, `int2-pinned-${bs}-${pinned}`, [T, K], activations, (name) =>
    name === 'w' ? codes : new Uint8Array(ones.buffer),
  );
}

/** Writes `g` (input x, output y) to a fresh folder, runs it once on x in onnxruntime-node and returns y. */
async function runGraph(
  g: GraphBuilder,
  name: string,
  dims: number[],
  x: Float32Array,
  weightBytes: (name: string) => Uint8Array = () => new Uint8Array(0),
): Promise<Float32Array> {
  const dir = await freshDir(name);
  const target = createNodeOutputTarget(path.join(dir, 'model.onnx'));
  await writeModel({
    graph: g,
    layout: planLayout(g.weights, { modelFile: 'model.onnx', external: 'never' }),
    target,
    producerName: 'test',
    producerVersion: '0',
    fill: async (spec, write) => write(weightBytes(spec.name)),
  });
  await target.commit();
  const session = await openNodeSession(path.join(dir, 'model.onnx'));
  try {
    return (await session.run({ x: float32Tensor(dims, x) })).y.data as Float32Array;
  } finally {
    await session.release();
  }
}

beforeAll(async () => {
  kernels = await loadNodeKernels();
  makeInputs();
});
afterAll(() => undefined);

describe('pinned blocks make MatMulNBits 2-bit products exact (docs/spec.md §7)', () => {
  it.each([16, 32, 64, 128])(
    'block %i: pinned equals the integer product everywhere; plain does not (except block 16)',
    async (bs) => {
      const exact = integerProduct();
      const pinned = await runProduct(bs, true);
      const plain = await runProduct(bs, false);
      let pinnedOff = 0;
      let plainOff = 0;
      for (let i = 0; i < exact.length; i++) {
        if (pinned[i] !== exact[i]) pinnedOff++;
        if (plain[i] !== exact[i]) plainOff++;
      }
      expect(pinnedOff).toBe(0);
      // Without pins the per-block re-quantisation changes the values: most outputs move. (onnxruntime
      // 1.30 runs block 16 through its float path, which is exact either way.)
      if (bs === 16) expect(plainOff).toBe(0);
      else expect(plainOff).toBeGreaterThan(exact.length / 2);
    },
  );

  it('lays value k of a row at block k / (bs − 1), slot k % (bs − 1); pins and padding carry weight 0', () => {
    const bs = 16;
    const row = Int8Array.from({ length: 20 }, (_, k) => ((k % 3) - 1) as number);
    const codes = kernels.packNBits2Pinned(row, 1, 20, bs);
    const code = (slot: number) => (codes[slot >> 2] >> (2 * (slot & 3))) & 3;
    expect(pinnedBlocks(20, bs)).toBe(2);
    for (let k = 0; k < 20; k++) expect(code(Math.floor(k / 15) * 16 + (k % 15))).toBe(row[k] + 2);
    expect(code(15)).toBe(2); // block 0's pin
    for (let slot = 16 + 5; slot < 32; slot++) expect(code(slot)).toBe(2); // padding and block 1's pin
  });

  it('lays activations into the same slots the weights use; pins are 127, padding 0', async () => {
    const bs = 16;
    const K = 20;
    const g = new GraphBuilder('layout');
    const x = g.input('x', 'float32', ['T', K]);
    g.node('Identity', [pinLayout(g, x, K, bs, 2)], ['y'], {});
    g.output('y', 'float32', ['T', pinnedBlocks(K, bs) * bs]);
    const values = Float32Array.from({ length: 2 * K }, (_, i) => (i % K) - 9 + (i >= K ? 100 : 0));
    const y = await runGraph(g, 'int2-pin-layout', [2, K], values);
    const width = pinnedBlocks(K, bs) * bs;
    expect(y.length).toBe(2 * width);
    for (let t = 0; t < 2; t++) {
      const slots = new Map<number, number>();
      for (let k = 0; k < K; k++)
        slots.set(Math.floor(k / (bs - 1)) * bs + (k % (bs - 1)), values[t * K + k]);
      for (let slot = 0; slot < width; slot++) {
        const expected = slots.get(slot) ?? (slot % bs === bs - 1 ? 127 : 0);
        expect(y[t * width + slot]).toBe(expected);
      }
    }
  });
});
