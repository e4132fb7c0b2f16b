import { describe, expect, it } from 'vitest';
import { encodeValues, float16Bits } from '../../src/core/onnx/dtypes.ts';
import { GraphBuilder } from '../../src/core/onnx/graph.ts';

function tiny(): GraphBuilder {
  const g = new GraphBuilder('g');
  g.input('x', 'float32', ['batch', 4]);
  return g;
}

describe('GraphBuilder names', () => {
  it('names nodes and their outputs per op type, deterministically', () => {
    const build = () => {
      const g = tiny();
      const a = g.op('Relu', ['x']);
      const b = g.op('Relu', [a]);
      const [c, d] = g.node('Split', [b], 2, { axis: { i: 1 } });
      g.node('Add', [c, d], ['sum']);
      return g;
    };
    const g = build();
    expect(g.nodes.map((n) => [n.name, n.outputs])).toEqual([
      ['Relu_0', ['Relu_0_output_0']],
      ['Relu_1', ['Relu_1_output_0']],
      ['Split_0', ['Split_0_output_0', 'Split_0_output_1']],
      ['Add_0', ['sum']],
    ]);
    expect(build().nodes).toEqual(g.nodes);
  });

  it('skips generated names that the caller already took', () => {
    const g = tiny();
    g.node('Identity', ['x'], ['Relu_0_output_0']);
    expect(g.op('Relu', ['x'])).toBe('Relu_1_output_0');
    expect(g.op('Relu', ['x'])).toBe('Relu_2_output_0');
  });

  it('defines every value once, across inputs, constants, weights and node outputs', () => {
    const g = tiny();
    expect(() => g.input('x', 'float32', [1])).toThrow(/"x" is already defined/);
    expect(() => g.weight({ name: 'x', type: 'uint8', dims: [1], byteLength: 1 })).toThrow(/already defined/);
    expect(() => g.constant('int64', [1], [1], 'x')).toThrow(/already defined/);
    expect(() => g.node('Relu', ['x'], ['x'])).toThrow(/already defined/);
    expect(() => g.input('', 'float32', [1])).toThrow(/empty value name/);
  });

  it('leaves the builder unchanged when it rejects a node', () => {
    const g = tiny();
    expect(() => g.node('Split', ['x'], ['a', 'a'])).toThrow(/output "a" is already defined/);
    expect(() => g.node('Split', ['x'], ['b', 'x'])).toThrow(/output "x" is already defined/);
    expect(() => g.node('Cast', ['x'], ['c'], { to: { i: 0.5 } })).toThrow(/not an integer/);
    expect(g.nodes).toEqual([]);
    expect(g.node('Split', ['x'], ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(g.nodes[0].name).toBe('Split_0');
  });

  it('requires node inputs to exist already, except the empty name for an omitted input', () => {
    const g = tiny();
    expect(() => g.op('Relu', ['later'])).toThrow(/input "later" is not defined yet/);
    expect(g.op('Clip', ['x', '', g.constant('float32', [], [6])])).toBe('Clip_0_output_0');
    expect(g.nodes.at(-1)!.inputs).toEqual(['x', '', 'const_0']);
  });

  it('requires outputs to be produced, declared once, with valid dims', () => {
    const g = tiny();
    expect(() => g.output('y', 'float32', [1])).toThrow(/not produced/);
    const y = g.op('Relu', ['x']);
    g.output(y, 'float32', ['batch', 4]);
    expect(() => g.output(y, 'float32', ['batch', 4])).toThrow(/declared twice/);
    expect(() => g.output('x', 'float32', [-1])).toThrow(/invalid dimension/);
    g.output('x', 'float32', ['batch', 4]); // an input may be an output as is
  });

  it('checks attributes where they are given', () => {
    const g = tiny();
    expect(() => g.op('Cast', ['x'], { to: { i: 1.5 } })).toThrow(/not an integer/);
    expect(() => g.op('Foo', ['x'], { t: { t: { type: 'int8', dims: [1], values: [300] } } })).toThrow(/fit/);
    expect(() => g.op('Foo', ['x'], { t: { t: { type: 'int8', dims: [2], values: [1] } } })).toThrow(/shape/);
  });
});

describe('GraphBuilder constants, weights, opsets', () => {
  it('shares unnamed constants with equal type, shape and content only', () => {
    const g = tiny();
    const a = g.constant('int64', [1], [1n]);
    expect(g.constant('int64', [1], [1])).toBe(a);
    expect(g.constant('int64', [], [1])).not.toBe(a);
    expect(g.constant('int32', [1], [1])).not.toBe(a);
    expect(g.constant('int64', [1], [2])).not.toBe(a);
    expect(g.constant('int64', [1], [1], 'named')).toBe('named');
    expect(g.constants.map((c) => c.name)).toEqual(['const_0', 'const_1', 'const_2', 'const_3', 'named']);
    expect(() => g.constant('float32', [2], [1])).toThrow(/1 values for shape \[2\]/);
  });

  it('encodes constant values little-endian, int64 from bigint or safe numbers, fp16 rounded to even', () => {
    expect(Array.from(encodeValues('int64', [-1n, 2 ** 40]))).toEqual([
      ...[255, 255, 255, 255, 255, 255, 255, 255],
      ...[0, 0, 0, 0, 0, 1, 0, 0],
    ]);
    expect(() => encodeValues('int64', [2 ** 60])).toThrow(/not a safe integer/);
    expect(Array.from(encodeValues('bool', [0, 2]))).toEqual([0, 1]);
    expect(Array.from(encodeValues('uint8', [255]))).toEqual([255]);
    expect(() => encodeValues('uint8', [256])).toThrow(/fit/);
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up to infinity
      [65519, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: even is 2
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [1 + 2 ** -11, 0x3c00], // tie: even mantissa
      [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000],
      [Infinity, 0x7c00],
    ];
    for (const [value, bits] of cases) expect(float16Bits(value), String(value)).toBe(bits);
    expect(float16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('keeps weights in declaration order and checks their byte length', () => {
    const g = tiny();
    g.weight({ name: 'b', type: 'float16', dims: [3], byteLength: 6 });
    g.weight({ name: 'a', type: 'int64', dims: [2, 0], byteLength: 0 });
    expect(g.weights.map((w) => w.name)).toEqual(['b', 'a']);
    expect(() => g.weight({ name: 'c', type: 'float32', dims: [3], byteLength: 6 })).toThrow(/needs 12/);
  });

  it('imports opset 17 by default and requires imports for other domains', () => {
    const g = tiny();
    const y = g.op('MatMulNBits', ['x'], { bits: { i: 2 } }, 'com.microsoft');
    g.output(y, 'float32', ['batch', 4]);
    expect(() => g.checkComplete()).toThrow(/com\.microsoft/);
    g.useOpset('com.microsoft', 1);
    g.checkComplete();
    expect(g.opsetImports()).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    expect(() => new GraphBuilder('empty').checkComplete()).toThrow(/no outputs/);
  });
});
