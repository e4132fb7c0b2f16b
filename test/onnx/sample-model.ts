/**
 * A small model exercising what the writer must get right: y = Reshape(MatMul(Relu(x·W1 + b1), Cast(W2)))
 * and m = ReduceMean(y0 · 0.5), with a symbolic batch dimension, an fp32 and an fp16 external-sized
 * weight, a bias small enough to stay inline, shared constants and int/ints attributes.
 */
import { float16Bits } from '../../src/core/onnx/dtypes.ts';
import { GraphBuilder, type WeightSpec } from '../../src/core/onnx/graph.ts';

export const IN = 64;
export const HIDDEN = 40;
export const OUT = 16;

export interface SampleModel {
  graph: GraphBuilder;
  data: Map<string, Uint8Array>;
  /** Emits each weight in 1000-byte pieces (deliberately not aligned to anything) and logs the order. */
  fill: (w: WeightSpec, emit: (bytes: Uint8Array) => Promise<void>) => Promise<void>;
  fillOrder: string[];
}

export function w1Value(i: number): number {
  return (((i * 13) % 17) - 8) / 16;
}
export function b1Value(i: number): number {
  return ((i % 5) - 2) / 4;
}
export function w2Value(i: number): number {
  return (((i * 7) % 9) - 4) / 8;
}

export function buildSampleModel(): SampleModel {
  const g = new GraphBuilder('sample');
  const x = g.input('x', 'float32', ['batch_size', IN]);
  const w1 = g.weight({ name: 'W1', type: 'float32', dims: [IN, HIDDEN], byteLength: IN * HIDDEN * 4 });
  const b1 = g.weight({ name: 'b1', type: 'float32', dims: [HIDDEN], byteLength: HIDDEN * 4 });
  const w2 = g.weight({ name: 'W2', type: 'float16', dims: [HIDDEN, OUT], byteLength: HIDDEN * OUT * 2 });
  const h = g.op('Relu', [g.op('Add', [g.op('MatMul', [x, w1]), b1])]);
  const y0 = g.op('MatMul', [h, g.op('Cast', [w2], { to: { i: 1 } })]);
  g.node('Reshape', [y0, g.constant('int64', [3], [0n, 4n, 4n])], ['y']);
  const half = g.constant('float32', [], [0.5]);
  const scaled = g.op('Mul', [y0, g.constant('float32', [], [0.5])]);
  if (g.constant('float32', [], [0.5]) !== half) throw new Error('constants are not shared');
  g.node('ReduceMean', [scaled], ['m'], { axes: { ints: [1] }, keepdims: { i: 1 } });
  g.output('y', 'float32', ['batch_size', 4, 4]);
  g.output('m', 'float32', ['batch_size', 1]);

  const data = new Map<string, Uint8Array>([
    ['W1', f32Bytes(IN * HIDDEN, w1Value)],
    ['b1', f32Bytes(HIDDEN, b1Value)],
    ['W2', f16Bytes(HIDDEN * OUT, w2Value)],
  ]);
  const fillOrder: string[] = [];
  const fill = async (w: WeightSpec, emit: (bytes: Uint8Array) => Promise<void>) => {
    fillOrder.push(w.name);
    const bytes = data.get(w.name)!;
    for (let at = 0; at < bytes.length; at += 1000) await emit(bytes.subarray(at, at + 1000));
  };
  return { graph: g, data, fill, fillOrder };
}

/** Reference outputs in float64 (W2's values are exact in fp16, so Cast loses nothing). */
export function sampleReference(x: Float32Array, batch: number): { y: number[]; m: number[] } {
  const y: number[] = [];
  const m: number[] = [];
  for (let b = 0; b < batch; b++) {
    const h = Array.from({ length: HIDDEN }, (_, j) => {
      let s = b1Value(j);
      for (let i = 0; i < IN; i++) s += x[b * IN + i] * w1Value(i * HIDDEN + j);
      return Math.max(s, 0);
    });
    let sum = 0;
    for (let k = 0; k < OUT; k++) {
      let s = 0;
      for (let j = 0; j < HIDDEN; j++) s += h[j] * w2Value(j * OUT + k);
      y.push(s);
      sum += s * 0.5;
    }
    m.push(sum / OUT);
  }
  return { y, m };
}

export function sampleInput(batch: number): Float32Array {
  return Float32Array.from({ length: batch * IN }, (_, i) => (((i * 3) % 11) - 5) / 10);
}

function f32Bytes(n: number, value: (i: number) => number): Uint8Array {
  return new Uint8Array(Float32Array.from({ length: n }, (_, i) => value(i)).buffer);
}

function f16Bytes(n: number, value: (i: number) => number): Uint8Array {
  return new Uint8Array(Uint16Array.from({ length: n }, (_, i) => float16Bits(value(i))).buffer);
}
