/** The engine's view of an inference session; src/runtime adapts onnxruntime-node / -web to it. */
export interface SessionTensor {
  type: 'int64' | 'float32';
  dims: number[];
  data: BigInt64Array | Float32Array;
}

export interface DecoderSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, SessionTensor>): Promise<Record<string, SessionTensor>>;
  release(): Promise<void>;
}

export function int64Tensor(dims: number[], values: number[]): SessionTensor {
  return { type: 'int64', dims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

export function float32Tensor(dims: number[], data: Float32Array): SessionTensor {
  return { type: 'float32', dims, data };
}
