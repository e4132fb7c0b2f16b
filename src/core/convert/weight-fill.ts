import { ConversionError, throwIfAborted } from '../errors.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { WeightSpec } from '../onnx/graph.ts';
import { readTensorBytes, type TensorInfo } from '../safetensors/checkpoint.ts';
import type { WeightRole } from '../bitnet/decoder-graph.ts';
import type { ProjectionSource } from '../bitnet/model-plan.ts';
import { bf16BytesToF16Into, f16BitsToF32, f32ToF16Into } from './half.ts';

export type Emit = (bytes: Uint8Array) => Promise<void>;

/**
 * Input bytes read per window: large enough to keep the disk busy, small enough to stay bounded. The
 * browser and the CLI must share it: absSumBf16's float64 lanes make the online scale depend on the split.
 */
const WINDOW_BYTES = 8 << 20;
/** Output bytes produced per step for re-laid-out tensors (int8 transposed, 2-bit blocks, ones). */
const OUTPUT_STEP_BYTES = 8 << 20;

const ELEMENT_BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4 };

/** How faithfully embedding-sized tensors went to float16 storage. */
export interface HalfStats {
  values: number;
  inexact: number;
  maxAbsError: number;
}

/**
 * Produces each initializer's bytes from the checkpoint, window by window, in the order the writer asks.
 * Holds at most one window of input, or one projection's ternary values (at one byte each), at a time.
 */
export class WeightFiller {
  /** Online quantisation computes each projection's scale while writing its weight. */
  private readonly onlineScales = new Map<ProjectionSource, number>();
  readonly half: HalfStats = { values: 0, inexact: 0, maxAbsError: 0 };

  constructor(
    private readonly roles: Map<string, WeightRole>,
    private readonly kernels: Kernels,
    private readonly signal?: AbortSignal,
  ) {}

  async fill(spec: WeightSpec, emit: Emit): Promise<void> {
    const role = this.roles.get(spec.name);
    if (!role) throw new Error(`no source for initializer ${spec.name}`);
    switch (role.kind) {
      case 'float':
        return role.as === 'float16' ? this.fillHalf(role.tensor, emit) : this.fillFloat(role.tensor, emit);
      case 'ternary-f32':
        return this.fillTernaryF32(role.proj, emit);
      case 'ternary-i8-transposed':
        return this.fillTernaryI8Transposed(role.proj, emit);
      case 'ternary-nbits2':
        return this.fillNBits2(role.proj, role.blockSize, emit);
      case 'ones':
        return this.fillOnes(role.count, emit);
      case 'scale':
        return emit(asBytes(new Float32Array([await this.scaleOf(role.proj)])));
    }
  }

  private async fillFloat(t: TensorInfo, emit: Emit): Promise<void> {
    await this.forEachWindow(t, async (bytes) => emit(asBytes(this.toF32(bytes, t.dtype))));
  }

  private async fillHalf(t: TensorInfo, emit: Emit): Promise<void> {
    await this.forEachWindow(t, async (bytes) => {
      const out = new Uint16Array(bytes.byteLength / ELEMENT_BYTES[t.dtype]);
      if (t.dtype === 'BF16') bf16BytesToF16Into(bytes, out, this.half);
      else f32ToF16Into(this.toF32(bytes, t.dtype), out, this.half);
      await emit(new Uint8Array(out.buffer));
    });
  }

  private async fillTernaryF32(p: ProjectionSource, emit: Emit): Promise<void> {
    if (!p.scale) {
      const c = await this.onlineScale(p);
      return this.forEachWindow(p.weight, async (bytes) =>
        emit(asBytes(this.ternariseF32(bytes, p.weight.dtype, c))),
      );
    }
    const packed = await this.readPacked(p);
    for (let block = 0; block < 4; block++) {
      throwIfAborted(this.signal);
      await emit(asBytes(this.kernels.unpackTernaryF32(packed, block)));
    }
  }

  /** MatMulInteger's B is [in, out]: the checkpoint's [out, in] transposed. */
  private async fillTernaryI8Transposed(p: ProjectionSource, emit: Emit): Promise<void> {
    const [out, inp] = p.shape;
    const step = Math.max(1, Math.floor(OUTPUT_STEP_BYTES / out));
    if (p.scale) {
      const packed = await this.readPacked(p);
      for (let k = 0; k < inp; k += step) {
        throwIfAborted(this.signal);
        await emit(
          asBytes(this.kernels.transposedTernaryI8(packed, out / 4, inp, k, Math.min(inp, k + step))),
        );
      }
      return;
    }
    const ternary = await this.onlineTernaryI8(p);
    for (let k = 0; k < inp; k += step) {
      throwIfAborted(this.signal);
      const end = Math.min(inp, k + step);
      const chunk = new Int8Array((end - k) * out);
      for (let kk = k; kk < end; kk++) {
        const row = (kk - k) * out;
        for (let o = 0; o < out; o++) chunk[row + o] = ternary[o * inp + kk];
      }
      await emit(asBytes(chunk));
    }
  }

  /** MatMulNBits' B is [out, K/block, block/4], 2-bit codes along K. */
  private async fillNBits2(p: ProjectionSource, blockSize: number, emit: Emit): Promise<void> {
    const [out, inp] = p.shape;
    if (p.scale) {
      const packed = await this.readPacked(p);
      for (let block = 0; block < 4; block++) {
        throwIfAborted(this.signal);
        await emit(
          this.kernels.packNBits2(this.kernels.unpackTernaryI8(packed, block), out / 4, inp, blockSize),
        );
      }
      return;
    }
    const ternary = await this.onlineTernaryI8(p);
    const rows = Math.max(1, Math.floor(OUTPUT_STEP_BYTES / inp));
    for (let r = 0; r < out; r += rows) {
      throwIfAborted(this.signal);
      const end = Math.min(out, r + rows);
      await emit(this.kernels.packNBits2(ternary.subarray(r * inp, end * inp), end - r, inp, blockSize));
    }
  }

  private async fillOnes(count: number, emit: Emit): Promise<void> {
    const chunk = new Float32Array(Math.min(count, OUTPUT_STEP_BYTES / 4)).fill(1);
    for (let done = 0; done < count; done += chunk.length) {
      await emit(asBytes(chunk.subarray(0, Math.min(chunk.length, count - done))));
    }
  }

  private async readPacked(p: ProjectionSource): Promise<Uint8Array> {
    const packed = await readTensorBytes(p.weight, 0, p.weight.byteLength);
    const bad = this.kernels.firstBadCode(packed);
    if (bad >= 0) {
      const cols = p.weight.shape[1];
      throw new ConversionError('corrupt packed weight: 2-bit code 3 does not encode a ternary value', {
        file: p.weight.source.name,
        tensor: p.weight.name,
        expected: 'codes 0, 1, 2',
        found: `code 3 in byte [${Math.floor(bad / cols)}, ${bad % cols}]`,
      });
    }
    return packed;
  }

  /** c = 1 / max(mean|W|, 1e-5) in float32 (docs/spec.md §1, online quantisation); first pass over W. */
  private async onlineScale(p: ProjectionSource): Promise<number> {
    const t = p.weight;
    let sum = 0;
    await this.forEachWindow(t, async (bytes) => {
      sum += t.dtype === 'BF16' ? this.kernels.absSumBf16(bytes) : absSum(this.toF32(bytes, t.dtype));
    });
    const mean = Math.fround(sum / (t.byteLength / ELEMENT_BYTES[t.dtype]));
    const c = Math.fround(1 / Math.max(mean, 1e-5));
    this.onlineScales.set(p, c);
    return c;
  }

  /** The whole ternarised master weight at one byte per value ([out, in]; ≤ 1/2 of its bf16 size). */
  private async onlineTernaryI8(p: ProjectionSource): Promise<Int8Array> {
    const c = await this.onlineScale(p);
    const ternary = new Int8Array(p.shape[0] * p.shape[1]);
    let at = 0;
    await this.forEachWindow(p.weight, async (bytes) => {
      const values =
        p.weight.dtype === 'BF16'
          ? this.kernels.ternariseBf16I8(bytes, c)
          : Int8Array.from(this.ternariseF32(bytes, p.weight.dtype, c));
      ternary.set(values, at);
      at += values.length;
    });
    return ternary;
  }

  private ternariseF32(bytes: Uint8Array, dtype: string, c: number): Float32Array {
    if (dtype === 'BF16') return this.kernels.ternariseBf16F32(bytes, c);
    // Other float dtypes: round-trip through bf16 would lose bits, so ternarise the float32 values directly.
    const values = this.toF32(bytes, dtype);
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const x = Math.fround(values[i] * c);
      out[i] = x > 0.5 ? 1 : x < -0.5 ? -1 : 0;
    }
    return out;
  }

  private async scaleOf(p: ProjectionSource): Promise<number> {
    if (!p.scale) {
      const c = this.onlineScales.get(p);
      if (c === undefined) throw new Error(`scale of ${p.weight.name} requested before its weight`);
      return c;
    }
    const bytes = await readTensorBytes(p.scale, 0, p.scale.byteLength);
    const value = this.toF32(bytes, p.scale.dtype)[0];
    if (!Number.isFinite(value) || value === 0) {
      throw new ConversionError('weight scale must be finite and non-zero', {
        file: p.scale.source.name,
        tensor: p.scale.name,
        found: String(value),
      });
    }
    return value;
  }

  private async forEachWindow(t: TensorInfo, visit: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    const element = ELEMENT_BYTES[t.dtype];
    if (!element) {
      throw new ConversionError('unsupported dtype for a float tensor', {
        file: t.source.name,
        tensor: t.name,
        expected: 'BF16, F16 or F32',
        found: t.dtype,
      });
    }
    const window = WINDOW_BYTES - (WINDOW_BYTES % element);
    for (let start = 0; start < t.byteLength; start += window) {
      throwIfAborted(this.signal);
      await visit(await readTensorBytes(t, start, Math.min(window, t.byteLength - start)));
    }
  }

  private toF32(bytes: Uint8Array, dtype: string): Float32Array {
    if (dtype === 'BF16') return this.kernels.bf16ToF32(bytes);
    if (dtype === 'F32') return new Float32Array(bytes.slice().buffer);
    return halfBytesToF32(bytes);
  }
}

function asBytes(values: Float32Array | Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function absSum(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i]);
  return sum;
}

function halfBytesToF32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = f16BitsToF32(view.getUint16(i * 2, true));
  return out;
}
