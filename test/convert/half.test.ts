import { describe, expect, it } from 'vitest';
import { bf16BytesToF16Into, f16BitsToF32, f32ToF16Into } from '../../src/core/convert/half.ts';
import { float16Bits } from '../../src/core/onnx/dtypes.ts';

const bf16Bytes = (values: number[]) => {
  const f = new Float32Array(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint8Array(values.length * 2);
  // Values chosen to be exact bf16 (low 16 bits zero), so truncation is the exact encoding.
  u.forEach((bits, i) => {
    out[2 * i] = (bits >>> 16) & 0xff;
    out[2 * i + 1] = bits >>> 24;
  });
  return out;
};

describe('float16 storage', () => {
  it('rounds float32 to nearest even, including ties, subnormals, overflow and NaN', () => {
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(65504)).toBe(0x7bff);
    expect(float16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds up to infinity
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(float16Bits(2 ** -24)).toBe(0x0001);
    expect(float16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal → 0
    expect(f16BitsToF32(float16Bits(2 ** -20 * 3))).toBe(2 ** -20 * 3);
    expect(Number.isNaN(f16BitsToF32(float16Bits(NaN)))).toBe(true);
    expect(float16Bits(-0)).toBe(0x8000);
  });

  it('bf16 values inside half range are exact; the rest are counted with their error', () => {
    const values = [0, 1, -0.5, 0.015625, 3.140625, 2 ** -14, 2 ** -17, 2 ** -20, 2 ** -26, 1e5, -1e38];
    const out = new Uint16Array(values.length);
    const stats = { values: 0, inexact: 0, maxAbsError: 0 };
    bf16BytesToF16Into(bf16Bytes(values), out, stats);
    const back = [...out].map(f16BitsToF32);
    expect(back.slice(0, 8)).toEqual(values.slice(0, 8)); // 2^-17 and 2^-20 land exactly on subnormals
    expect(back[8]).toBe(0); // 2^-26 underflows
    expect(back[9]).toBe(Infinity);
    expect(back[10]).toBe(-Infinity);
    expect(stats).toEqual({ values: values.length, inexact: 3, maxAbsError: Infinity });
  });

  it('the table path and the float32 path agree on every bf16 value', () => {
    const bytes = new Uint8Array(65536 * 2);
    for (let b = 0; b < 65536; b++) {
      bytes[2 * b] = b & 0xff;
      bytes[2 * b + 1] = b >> 8;
    }
    const viaTable = new Uint16Array(65536);
    const viaFloat = new Uint16Array(65536);
    const a = { values: 0, inexact: 0, maxAbsError: 0 };
    const f = { values: 0, inexact: 0, maxAbsError: 0 };
    bf16BytesToF16Into(bytes, viaTable, a);
    const floats = new Float32Array(new Uint32Array(65536).map((_, b) => b << 16).buffer);
    f32ToF16Into(floats, viaFloat, f);
    expect(viaTable).toEqual(viaFloat);
    expect(a).toEqual(f);
    // ...and the table is the per-value rounding itself.
    expect(viaTable).toEqual(Uint16Array.from(floats, (x) => float16Bits(x)));
  });

  it('float32 values that are not bf16 are rounded one by one, and counted', () => {
    const values = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -10, 0.1]);
    const out = new Uint16Array(values.length);
    const stats = { values: 0, inexact: 0, maxAbsError: 0 };
    f32ToF16Into(values, out, stats);
    expect([...out]).toEqual([0x3c00, 0x3c02, 0x3c01, 0x2e66]);
    expect(stats.inexact).toBe(3);
    expect(stats.maxAbsError).toBe(2 ** -11); // the two ties; 0.1 is off by only ~2.4e-5
  });
});
