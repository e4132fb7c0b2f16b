/**
 * Where each weight's bytes go: inline in the .onnx (raw_data) or in an external data file at an
 * aligned offset. Pure arithmetic over WeightSpecs, decided before a single byte is written, so the
 * writer can compute every length up front and the result is the same on every run.
 */
import { ConversionError } from '../errors.ts';
import type { WeightSpec } from './graph.ts';

/** protobuf refuses to parse a message of 2 GiB or more (its sizes are signed 32-bit). */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
/** One data file per ≤ 2 GiB: onnxruntime-web copies each file into one ArrayBuffer. */
export const DEFAULT_MAX_FILE_BYTES = 2 ** 31;
export const DEFAULT_ALIGN = 4096;
/** Room for the graph itself (nodes, inline constants) when deciding whether weights fit inline. */
export const INLINE_HEADROOM = 64 * 2 ** 20;
export const DEFAULT_INLINE_LIMIT = PROTOBUF_LIMIT - INLINE_HEADROOM;
/**
 * Weights smaller than this stay inline even in external mode (the same threshold as onnx's
 * `convert_model_to_external_data`): padding a 4-byte scale to 4 KiB gains nothing. The writer holds
 * such a weight in memory until the .onnx is written, which the cap keeps cheap.
 */
export const DEFAULT_INLINE_BELOW = 1024;
export const MAX_INLINE_BELOW = 64 * 1024;

export interface LayoutOptions {
  /** Name of the .onnx inside the output target, e.g. `onnx/model.onnx`. */
  modelFile: string;
  /** 'auto': external only when the model would not fit protobuf's 2 GiB limit. */
  external: 'auto' | 'always' | 'never';
  maxFileBytes?: number;
  align?: number;
  /** Largest total of inline weight bytes (plus per-tensor overhead) allowed in the .onnx. */
  inlineLimit?: number;
  /** In external mode, weights below this many bytes stay inline. At most 64 KiB. */
  inlineBelow?: number;
}

export interface DataFile {
  /** Name inside the output target (next to the model file). */
  name: string;
  /** What `external_data.location` says: the name relative to the model file's folder. */
  location: string;
  bytes: number;
}

export interface Placement {
  name: string;
  byteLength: number;
  /** Absent: inline raw_data in the .onnx. */
  external?: { file: number; offset: number };
}

export interface Layout {
  modelFile: string;
  /** One per weight, in the weights' declaration order. */
  placements: Placement[];
  /** Data files in writing order; empty when everything is inline. */
  dataFiles: DataFile[];
}

export function planLayout(weights: readonly WeightSpec[], opts: LayoutOptions): Layout {
  const o = resolveOptions(opts);
  const external =
    opts.external === 'always' || (opts.external === 'auto' && inlineEstimate(weights) > o.inlineLimit);
  if (!external) {
    checkFitsInline(weights, opts.modelFile, o.inlineLimit);
    return { modelFile: opts.modelFile, placements: weights.map(inlinePlacement), dataFiles: [] };
  }
  return planExternal(weights, opts.modelFile, o);
}

/** `model.onnx` → `model.onnx_data`, `model.onnx_data_1`, … (what transformers.js loads). */
export function dataFileName(modelFile: string, index: number): string {
  return index === 0 ? `${modelFile}_data` : `${modelFile}_data_${index}`;
}

interface ResolvedOptions {
  maxFileBytes: number;
  align: number;
  inlineLimit: number;
  inlineBelow: number;
}

function resolveOptions(opts: LayoutOptions): ResolvedOptions {
  if (!opts.modelFile || opts.modelFile.endsWith('/')) {
    throw new Error(`bad model file name "${opts.modelFile}"`);
  }
  const o = {
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    align: opts.align ?? DEFAULT_ALIGN,
    inlineLimit: opts.inlineLimit ?? DEFAULT_INLINE_LIMIT,
    inlineBelow: opts.inlineBelow ?? DEFAULT_INLINE_BELOW,
  };
  for (const [key, value] of Object.entries(o)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(`layout option ${key}: bad value ${value}`);
    }
  }
  if (o.align < 1 || o.maxFileBytes < 1) throw new Error('layout: align and maxFileBytes must be positive');
  if (o.inlineBelow > MAX_INLINE_BELOW) {
    throw new Error(`layout: inlineBelow is capped at ${MAX_INLINE_BELOW}`);
  }
  if (o.inlineLimit > PROTOBUF_LIMIT) {
    throw new Error(`layout: inlineLimit exceeds protobuf's ${PROTOBUF_LIMIT}`);
  }
  return o;
}

/** Bytes the weights add to the .onnx when inline: payload plus a generous per-tensor header. */
function inlineEstimate(weights: readonly WeightSpec[]): number {
  return weights.reduce((sum, w) => sum + w.byteLength + tensorOverhead(w), 0);
}

function tensorOverhead(w: WeightSpec): number {
  return 32 + new TextEncoder().encode(w.name).length + 11 * w.dims.length;
}

function checkFitsInline(weights: readonly WeightSpec[], modelFile: string, inlineLimit: number): void {
  const estimate = inlineEstimate(weights);
  if (estimate > inlineLimit) {
    throw new ConversionError('the weights do not fit in one protobuf file; use external data', {
      file: modelFile,
      expected: `at most ${inlineLimit} bytes inline`,
      found: `${estimate} bytes`,
    });
  }
}

function inlinePlacement(w: WeightSpec): Placement {
  return { name: w.name, byteLength: w.byteLength };
}

/** Greedy, in declaration order: the next tensor goes at the next aligned offset, or opens a new file. */
function planExternal(weights: readonly WeightSpec[], modelFile: string, o: ResolvedOptions): Layout {
  const placements: Placement[] = [];
  const ends: number[] = [];
  for (const w of weights) {
    if (w.byteLength === 0 || w.byteLength < o.inlineBelow) {
      placements.push(inlinePlacement(w));
      continue;
    }
    if (w.byteLength > o.maxFileBytes) {
      throw new ConversionError('weight is larger than one external data file may be', {
        file: modelFile,
        tensor: w.name,
        expected: `at most ${o.maxFileBytes} bytes`,
        found: `${w.byteLength} bytes`,
      });
    }
    const last = ends.length - 1;
    const aligned = last >= 0 ? alignUp(ends[last], o.align) : 0;
    const fits = last >= 0 && aligned + w.byteLength <= o.maxFileBytes;
    const file = fits ? last : ends.length;
    const offset = fits ? aligned : 0;
    ends[file] = offset + w.byteLength;
    placements.push({ name: w.name, byteLength: w.byteLength, external: { file, offset } });
  }
  const base = baseName(modelFile);
  const dataFiles = ends.map((bytes, i) => ({
    name: dataFileName(modelFile, i),
    location: dataFileName(base, i),
    bytes,
  }));
  checkFitsInline(
    weights.filter((_, i) => !placements[i].external),
    modelFile,
    o.inlineLimit,
  );
  return { modelFile, placements, dataFiles };
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
