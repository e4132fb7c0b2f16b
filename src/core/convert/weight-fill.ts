import { ConversionError, throwIfAborted } from '../errors.ts';
import type { BlockBits, Kernels } from '../kernels/kernels.ts';
import type { WeightSpec } from '../onnx/graph.ts';
import { readTensorBytes, type TensorInfo } from '../safetensors/checkpoint.ts';
import type { ProjectionSource } from '../bitnet/model-plan.ts';
import { asBytes, type Emit, type ProjectionReader, type WeightRole } from '../formats/format.ts';
import { formatModule } from '../formats/registry.ts';
import { bf16BytesToF16Into, f16BitsToF32, f32ToF16Into } from './half.ts';

export type { Emit } from '../formats/format.ts';

/**
 * Input bytes read per window: large enough to keep the disk busy, small enough to stay bounded. The
 * browser and the CLI must share it: absSumBf16's float64 lanes make the online scale depend on the split.
 */
const WINDOW_BYTES = 8 << 20;

const ELEMENT_BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4 };

/** How faithfully embedding-sized tensors went to float16 storage. */
export interface HalfStats {
  values: number;
  inexact: number;
  maxAbsError: number;
}

/**
 * Produces each initializer's bytes from the checkpoint, window by window, in the order the writer asks.
 * Holds at most one window of input, or one fused group's ternary values (at one byte each), at a time.
 * Ternary projections are laid out by their format's module (src/core/formats); this class reads them.
 */
export class WeightFiller implements ProjectionReader {
  /** Online quantisation computes each projection's scale while writing its weight. */
  private readonly onlineScales = new Map<ProjectionSource, number>();
  readonly half: HalfStats = { values: 0, inexact: 0, maxAbsError: 0 };

  constructor(
    private readonly roles: Map<string, WeightRole>,
    readonly kernels: Kernels,
    readonly signal?: AbortSignal,
  ) {}

  async fill(spec: WeightSpec, emit: Emit): Promise<void> {
    const role = this.roles.get(spec.name);
    if (!role) throw new Error(`no source for initializer ${spec.name}`);
    switch (role.kind) {
      case 'float':
        return role.as === 'float16' ? this.fillHalf(role.tensor, emit) : this.fillFloat(role.tensor, emit);
      case 'format':
        return formatModule(role.format).fill(role.part, role.group, role.options, this, emit);
      case 'scales':
        return this.fillScales(role.group, spec.dims[0], emit);
      case 'head-blocks':
        return this.fillHeadBlocks(role.tensor, role.part, role.blockSize, role.bits, emit);
    }
  }

  async packed(p: ProjectionSource): Promise<Uint8Array | undefined> {
    return p.scale ? this.readPacked(p) : undefined;
  }

  async ternaryI8(p: ProjectionSource): Promise<Int8Array> {
    const packed = await this.packed(p);
    if (!packed) return this.onlineTernaryI8(p);
    const blockValues = packed.length;
    const out = new Int8Array(blockValues * 4);
    for (let block = 0; block < 4; block++)
      out.set(this.kernels.unpackTernaryI8(packed, block), block * blockValues);
    return out;
  }

  async forEachTernaryF32(
    p: ProjectionSource,
    visit: (values: Float32Array) => Promise<void>,
  ): Promise<void> {
    const packed = await this.packed(p);
    if (packed) {
      for (let block = 0; block < 4; block++) {
        throwIfAborted(this.signal);
        await visit(this.kernels.unpackTernaryF32(packed, block));
      }
      return;
    }
    const c = await this.onlineScale(p);
    await this.forEachWindow(p.weight, (bytes) => visit(this.ternariseF32(bytes, p.weight.dtype, c)));
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

  /** One value per projection ([1]), or each projection's scale repeated over its outputs ([Σ out]). */
  private async fillScales(group: ProjectionSource[], count: number, emit: Emit): Promise<void> {
    const values = new Float32Array(count);
    if (count === 1) values[0] = await this.scaleOf(group[0]);
    else {
      let at = 0;
      for (const p of group) {
        values.fill(await this.scaleOf(p), at, at + p.shape[0]);
        at += p.shape[0];
      }
    }
    await emit(asBytes(values));
  }

  /** The head's blockwise candidate copy (Kernels.quantizeBlocks), whole rows per window. */
  private async fillHeadBlocks(
    t: TensorInfo,
    part: 'codes' | 'scales',
    blockSize: number,
    bits: BlockBits,
    emit: Emit,
  ): Promise<void> {
    const hidden = t.shape[1];
    await this.forEachWindow(
      t,
      async (bytes) => {
        const values = this.toF32(bytes, t.dtype);
        const q = this.kernels.quantizeBlocks(values, values.length / hidden, hidden, blockSize, bits);
        await emit(part === 'codes' ? q.codes : asBytes(q.scales));
      },
      hidden * ELEMENT_BYTES[t.dtype],
    );
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

  private async forEachWindow(
    t: TensorInfo,
    visit: (bytes: Uint8Array) => Promise<void>,
    /** Windows hold whole multiples of this many bytes (e.g. whole rows). */
    unit?: number,
  ): Promise<void> {
    const element = ELEMENT_BYTES[t.dtype];
    if (!element) {
      throw new ConversionError('unsupported dtype for a float tensor', {
        file: t.source.name,
        tensor: t.name,
        expected: 'BF16, F16 or F32',
        found: t.dtype,
      });
    }
    const step = unit ?? element;
    const window = Math.max(step, WINDOW_BYTES - (WINDOW_BYTES % step));
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
