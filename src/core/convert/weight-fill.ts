import { ConversionError, throwIfAborted } from '../errors.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { WeightSpec } from '../onnx/graph.ts';
import { readTensorBytes, type TensorInfo } from '../safetensors/checkpoint.ts';
import type { WeightRole } from '../bitnet/decoder-graph.ts';
import type { ProjectionSource } from '../bitnet/model-plan.ts';

export type Emit = (bytes: Uint8Array) => Promise<void>;

/** Input bytes read per window: large enough to keep the disk busy, small enough to stay bounded. */
const WINDOW_BYTES = 8 << 20;

const ELEMENT_BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4 };

/**
 * Produces each initializer's bytes from the checkpoint, window by window, in the order the writer asks.
 * Holds at most one window of input (or one packed projection, 1/16 of its float32 size) at a time.
 */
export class WeightFiller {
  /** Online quantisation computes each projection's scale while writing its weight. */
  private readonly onlineScales = new Map<ProjectionSource, number>();

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
        return this.fillFloat(role.tensor, emit);
      case 'ternary-f32':
        return role.proj.scale ? this.fillPacked(role.proj, emit) : this.fillOnline(role.proj, emit);
      case 'scale':
        return emit(f32Bytes(await this.scaleOf(role.proj)));
    }
  }

  private async fillFloat(t: TensorInfo, emit: Emit): Promise<void> {
    await this.forEachWindow(t, async (bytes) => emit(asBytes(this.toF32(bytes, t.dtype))));
  }

  private async fillPacked(p: ProjectionSource, emit: Emit): Promise<void> {
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
    for (let block = 0; block < 4; block++) {
      throwIfAborted(this.signal);
      await emit(asBytes(this.kernels.unpackTernaryF32(packed, block)));
    }
  }

  private async fillOnline(p: ProjectionSource, emit: Emit): Promise<void> {
    const t = p.weight;
    let sum = 0;
    await this.forEachWindow(t, async (bytes) => {
      sum += t.dtype === 'BF16' ? this.kernels.absSumBf16(bytes) : absSum(this.toF32(bytes, t.dtype));
    });
    const count = t.byteLength / ELEMENT_BYTES[t.dtype];
    const mean = Math.fround(sum / count);
    const c = Math.fround(1 / Math.max(mean, 1e-5));
    this.onlineScales.set(p, c);
    await this.forEachWindow(t, async (bytes) =>
      emit(
        asBytes(
          t.dtype === 'BF16'
            ? this.kernels.ternariseBf16F32(bytes, c)
            : ternarise(this.toF32(bytes, t.dtype), c),
        ),
      ),
    );
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
    return halfToF32(bytes);
  }
}

function asBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function f32Bytes(value: number): Uint8Array {
  return asBytes(new Float32Array([value]));
}

function absSum(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.abs(values[i]);
  return sum;
}

function ternarise(values: Float32Array, c: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = Math.fround(values[i] * c);
    const r = Math.round(x) - (Math.abs(x % 1) === 0.5 && Math.round(x) % 2 !== 0 ? 1 : 0);
    out[i] = Math.max(-1, Math.min(1, r)) + 0;
  }
  return out;
}

/** IEEE half → float32; rare in BitNet exports, so plain TypeScript is enough. */
function halfToF32(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) {
    const h = view.getUint16(i * 2, true);
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}
