/** Small helpers shared by the bench's parent and child processes (no onnxruntime, no src imports). */

export function medianOf(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The prompt every decode measurement feeds, ours and the peer's alike: BOS, then i·7919 + 13 + seed·104729
 * mod vocab (the recipe of src/core/check/runtime-check.ts checkPrompt, restated so both sides share it).
 */
export function benchPrompt(vocab: number, length: number, seed = 1, bos = 128000): number[] {
  const ids = bos < vocab ? [bos] : [];
  for (let i = 1; ids.length < length; i++) ids.push((i * 7919 + 13 + seed * 104729) % vocab);
  return ids;
}
