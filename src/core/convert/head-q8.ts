/**
 * The q8 head's table (docs/spec.md §7): each row of the float head [vocab, hidden] in blocks of
 * `blockSize` along hidden, symmetric 8-bit codes with MatMulNBits' default zero point 128:
 * scale = max|w| / 127 (float32), code = 128 + round(w / scale); hidden is padded to whole blocks with
 * code 128 (value 0). An all-zero block has scale 0 and codes 128.
 */
export interface Q8Rows {
  /** uint8 [rows, blocks, blockSize]. */
  codes: Uint8Array;
  /** float32 [rows · blocks]. */
  scales: Float32Array;
}

export function quantizeRowsQ8(values: Float32Array, rows: number, K: number, blockSize: number): Q8Rows {
  const blocks = Math.ceil(K / blockSize);
  const codes = new Uint8Array(rows * blocks * blockSize).fill(128);
  const scales = new Float32Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * K + b * blockSize;
      const to = r * K + Math.min(K, (b + 1) * blockSize);
      let max = 0;
      for (let i = from; i < to; i++) max = Math.max(max, Math.abs(values[i]));
      const scale = Math.fround(max / 127);
      scales[r * blocks + b] = scale;
      if (scale === 0) continue;
      const out = (r * blocks + b) * blockSize;
      for (let i = from; i < to; i++) {
        const q = Math.round(Math.fround(values[i] / scale));
        codes[out + i - from] = 128 + Math.max(-127, Math.min(127, q));
      }
    }
  }
  return { codes, scales };
}
