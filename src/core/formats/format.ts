/**
 * What a weight format is: how its projections are computed in the graph, how their initializers are
 * filled, how its files are named and described. One module per format (fp32.ts, int8.ts, int2.ts),
 * listed once in registry.ts; nothing else in the engine branches on a format's name.
 */
import type { ProjectionSource } from '../bitnet/model-plan.ts';
import type { Kernels } from '../kernels/kernels.ts';
import type { ElemType } from '../onnx/graph.ts';
import type { GraphBuilder } from '../onnx/graph.ts';
import type { HeadMode } from './head.ts';
import type { WeightFormat } from './registry.ts';

/** Storage of the non-ternary embedding table (and untied head): fp16 is exact for bf16 values in range. */
export type EmbedStorage = 'fp32' | 'fp16';

export interface FormatOptions {
  weights: WeightFormat;
  embed: EmbedStorage;
  /** MatMulNBits block size along K (formats with blockwise products only). */
  blockSize: number;
  head: HeadMode;
}

/** The integer-valued quantised activations of one input, in the forms products may ask for. */
export interface QuantizedInput {
  /** round(x · s), float32 [T, K], integer valued. */
  xq: string;
  /** 127 / max|x| per token, [T, 1]. */
  s: string;
  /** xq + 128 as uint8 (MatMulInteger with zero point 128). */
  unsigned(): string;
  /** xq laid out in blocks of `blockSize` holding blockSize − 1 values and one 127 (docs/spec.md §7). */
  pinned(blockSize: number): string;
}

export type WeightRole =
  | { kind: 'float'; tensor: import('../safetensors/checkpoint.ts').TensorInfo; as?: 'float32' | 'float16' }
  | { kind: 'format'; format: string; part: string; group: ProjectionSource[]; options: FormatOptions }
  | { kind: 'scales'; group: ProjectionSource[] }
  | {
      kind: 'head-blocks';
      part: 'codes' | 'scales';
      tensor: import('../safetensors/checkpoint.ts').TensorInfo;
      blockSize: number;
      bits: import('../kernels/kernels.ts').BlockBits;
    };

/** What a format's graph fragment may use. */
export interface GraphContext {
  g: GraphBuilder;
  options: FormatOptions;
  weight(name: string, type: ElemType, dims: number[], role: WeightRole): string;
}

/** Ternary weights of a projection, as the filler can supply them (packed or ternarised master weights). */
export interface ProjectionReader {
  readonly kernels: Kernels;
  readonly signal?: AbortSignal;
  /** U8 [out/4, in] with codes checked, for packed checkpoints; undefined for master weights. */
  packed(p: ProjectionSource): Promise<Uint8Array | undefined>;
  /** The whole ternary matrix [out, in] at one byte per value (either variant). */
  ternaryI8(p: ProjectionSource): Promise<Int8Array>;
  /** Ternary float32 values [out, in] in row order, window by window (either variant). */
  forEachTernaryF32(p: ProjectionSource, visit: (values: Float32Array) => Promise<void>): Promise<void>;
}

export type Emit = (bytes: Uint8Array) => Promise<void>;

export interface WeightFormatModule<Id extends string = string> {
  readonly id: Id;
  /** Short name for people: 'float32', 'int8', '2-bit'. */
  readonly label: string;
  /** One line for help texts and the app. */
  readonly summary: string;
  /** transformers.js file suffix (`model{suffix}.onnx`) and its `dtype` name. */
  readonly fileSuffix: string;
  readonly transformersJsDtype: string;
  /**
   * 'portable': default-domain opset 17 only, one product per projection, loads in every runtime.
   * 'onnxruntime': onnxruntime's fused contrib operators and fused products, built for decode speed.
   */
  readonly graphStyle: 'portable' | 'onnxruntime';
  /** Whether --block-size applies. */
  readonly blockwise: boolean;
  /**
   * Adds the initializers and nodes computing the integer accumulators [T, Σ out] of projections that
   * read the same quantised input (one projection in portable graphs, q|k|v or gate|up when fused).
   */
  accumulate(ctx: GraphContext, input: QuantizedInput, group: ProjectionSource[], name: string): string;
  /** Streams the bytes of an initializer this format declared with role kind 'format'. */
  fill(
    part: string,
    group: ProjectionSource[],
    options: FormatOptions,
    reader: ProjectionReader,
    emit: Emit,
  ): Promise<void>;
  /** Metadata written into the model and the model folder's description. */
  metadata(options: FormatOptions): Record<string, string | number>;
}

export function asBytes(values: Float32Array | Int8Array | Uint8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Output bytes produced per step for re-laid-out tensors. */
export const OUTPUT_STEP_BYTES = 8 << 20;

export function outFeatures(group: ProjectionSource[]): number {
  return group.reduce((n, p) => n + p.shape[0], 0);
}

export function inFeatures(group: ProjectionSource[]): number {
  const k = group[0].shape[1];
  if (group.some((p) => p.shape[1] !== k)) throw new Error('fused projections must share their input');
  return k;
}
