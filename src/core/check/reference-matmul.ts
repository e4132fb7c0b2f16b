/**
 * The two hot loops of the reference: dot products of up to four activation rows with one weight row.
 * Reading each weight once for four tokens roughly halves the time of a vocab-wide projection, which is
 * bandwidth-bound (a 128256 × 2560 float32 head is 1.3 GB). Each row still accumulates sequentially,
 * index 0 upwards, so the results are identical to one-row-at-a-time loops.
 *
 * Two copies, integer and float, on purpose: one generic function would see both Int8Array and
 * Float32Array and V8 would stop specialising it.
 */

/** Rows handled per pass over a weight row. */
export const ROW_BLOCK = 4;

/**
 * acc[k] = Σ_j xq[(r + k)·n + j] · t[tOff + j] for k < ROW_BLOCK (rows r..r+3 must exist): exact
 * integer dot products (|acc| ≤ 128 · n, far inside the 2⁵³ a double holds exactly).
 */
export function dotBlockInt8(
  xq: Int8Array,
  r: number,
  n: number,
  t: Int8Array,
  tOff: number,
  acc: Float64Array,
): void {
  const o0 = r * n;
  const o1 = o0 + n;
  const o2 = o1 + n;
  const o3 = o2 + n;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let j = 0; j < n; j++) {
    const tj = t[tOff + j];
    a0 += xq[o0 + j] * tj;
    a1 += xq[o1 + j] * tj;
    a2 += xq[o2 + j] * tj;
    a3 += xq[o3 + j] * tj;
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/**
 * acc[k] = Σ_j x[(r + k)·n + j] · w[wOff + j] for k < ROW_BLOCK (rows r..r+3 must exist), in float64: products of float32
 * values are exact in float64; the caller rounds each sum once to float32.
 */
export function dotBlockF32(
  x: Float32Array,
  r: number,
  n: number,
  w: Float32Array,
  wOff: number,
  acc: Float64Array,
): void {
  const o0 = r * n;
  const o1 = o0 + n;
  const o2 = o1 + n;
  const o3 = o2 + n;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let j = 0; j < n; j++) {
    const wj = w[wOff + j];
    a0 += x[o0 + j] * wj;
    a1 += x[o1 + j] * wj;
    a2 += x[o2 + j] * wj;
    a3 += x[o3 + j] * wj;
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

/** One exact integer dot product, for the rows left over after the blocks. */
export function dotInt8(xq: Int8Array, xOff: number, t: Int8Array, tOff: number, n: number): number {
  let acc = 0;
  for (let j = 0; j < n; j++) acc += xq[xOff + j] * t[tOff + j];
  return acc;
}

/** One float64-accumulated dot product of float32 rows, for the rows left over after the blocks. */
export function dotF64(x: Float32Array, xOff: number, w: Float32Array, wOff: number, n: number): number {
  let acc = 0;
  for (let j = 0; j < n; j++) acc += x[xOff + j] * w[wOff + j];
  return acc;
}
