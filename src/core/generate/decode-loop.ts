/**
 * Autoregressive generation over a converted decoder with its KV cache: the prompt in one call
 * (prefill), then one token per call, each call's `present.{i}.*` fed back as the next call's
 * `past_key_values.{i}.*`. Driven only by the I/O contract of docs/spec.md §4's decoder (names in
 * IO_NAMES) and the session's own input and output names, so any graph with that contract runs:
 * fp32, int8, int2, or one rebuilt from contrib operators. No onnxruntime here; src/runtime adapts it.
 */
import { IO_NAMES } from '../bitnet/decoder-graph.ts';
import {
  float32Tensor,
  int64Tensor,
  type DecoderSession,
  type SessionTensor,
} from '../check/decoder-session.ts';
import { tokenPicker, type Sampling } from './sampling.ts';

/** The shape of one layer's cached keys (and values): [1, numKvHeads, past, headDim]. */
export interface KvShape {
  numKvHeads: number;
  headDim: number;
}

/** What the session offers, found from its names. */
export interface DecoderIo {
  layers: number;
  /** Graphs may leave out the mask or the positions; they are fed only when declared. */
  attentionMask: boolean;
  positionIds: boolean;
}

/** Reads the decoder contract off a session's names; a missing piece is named in the error. */
export function decoderIo(session: Pick<DecoderSession, 'inputNames' | 'outputNames'>): DecoderIo {
  const inputs = new Set(session.inputNames);
  const outputs = new Set(session.outputNames);
  const missing: string[] = [];
  if (!inputs.has(IO_NAMES.inputIds)) missing.push(`input ${IO_NAMES.inputIds}`);
  if (!outputs.has(IO_NAMES.logits)) missing.push(`output ${IO_NAMES.logits}`);
  let layers = 0;
  while (inputs.has(IO_NAMES.pastKey(layers))) layers++;
  if (layers === 0) missing.push(`input ${IO_NAMES.pastKey(0)}`);
  for (let i = 0; i < layers; i++) {
    if (!inputs.has(IO_NAMES.pastValue(i))) missing.push(`input ${IO_NAMES.pastValue(i)}`);
    if (!outputs.has(IO_NAMES.presentKey(i))) missing.push(`output ${IO_NAMES.presentKey(i)}`);
    if (!outputs.has(IO_NAMES.presentValue(i))) missing.push(`output ${IO_NAMES.presentValue(i)}`);
  }
  if (missing.length > 0) {
    throw new Error(
      `the model is not a decoder with a KV cache: it lacks ${missing.join(', ')} ` +
        `(found inputs ${[...inputs].join(', ') || 'none'}; outputs ${[...outputs].join(', ') || 'none'})`,
    );
  }
  return {
    layers,
    attentionMask: inputs.has(IO_NAMES.attentionMask),
    positionIds: inputs.has(IO_NAMES.positionIds),
  };
}

export interface GenerateRequest {
  /** Token ids of the prompt (at least one). */
  prompt: readonly number[];
  /** Tokens to generate at most (≥ 1). */
  maxNewTokens: number;
  sampling: Sampling;
  /** Generation ends after producing one of these (e.g. the EOS id); it is included in the tokens. */
  stopIds?: readonly number[];
  /** The model's context length: generation ends before a position reaches it. */
  maxPositions?: number;
  /** Aborting ends generation after the step that is running; the tokens so far are returned. */
  signal?: AbortSignal;
  /** Called with each token as soon as it is chosen. */
  onToken?: (token: GeneratedToken) => void;
  /**
   * Awaited between steps. A worker passes a macrotask yield here, so messages (a stop) are handled
   * while generating: onnxruntime's run may resolve without ever leaving the microtask queue.
   */
  pause?: () => Promise<void>;
  /** Milliseconds, monotonic (performance.now in both hosts). */
  now?: () => number;
}

export interface GeneratedToken {
  id: number;
  /** 0 for the first generated token. */
  index: number;
  /** Milliseconds since generation started (prefill included). */
  elapsedMs: number;
}

export type StopReason = 'length' | 'stop-token' | 'context' | 'stopped';

export interface GenerateResult {
  tokens: number[];
  reason: StopReason;
  /** Time to the first token: the prompt's forward pass and the first choice. */
  prefillMs: number;
  /** Time from the first token to the last. */
  decodeMs: number;
}

/** Tokens per second after the first one (the prefill is not decoding speed); undefined below two tokens. */
export function decodeRate(tokens: number, decodeMs: number): number | undefined {
  return tokens >= 2 && decodeMs > 0 ? ((tokens - 1) * 1000) / decodeMs : undefined;
}

export function validateRequest(r: GenerateRequest): void {
  if (r.prompt.length === 0) throw new RangeError('the prompt is empty: give at least one token');
  for (const id of r.prompt) {
    if (!Number.isInteger(id) || id < 0)
      throw new RangeError(`prompt token ${id} is not a token id (an integer ≥ 0)`);
  }
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) {
    throw new RangeError(`max new tokens must be an integer ≥ 1, got ${r.maxNewTokens}`);
  }
  if (r.maxPositions !== undefined && r.prompt.length >= r.maxPositions) {
    throw new RangeError(
      `the prompt has ${r.prompt.length} tokens; the model's context holds ${r.maxPositions}, so nothing can follow`,
    );
  }
}

/**
 * Generates up to `maxNewTokens` tokens after `prompt` (batch 1). Tokens whose ids are outside the
 * model's vocabulary are refused by the model itself, with onnxruntime's message.
 */
export async function generate(
  session: DecoderSession,
  kv: KvShape,
  request: GenerateRequest,
): Promise<GenerateResult> {
  validateRequest(request);
  const io = decoderIo(session);
  const pick = tokenPicker(request.sampling);
  const now = request.now ?? (() => performance.now());
  const stopIds = new Set(request.stopIds ?? []);
  const started = now();

  let past: Record<string, SessionTensor> = {};
  for (let i = 0; i < io.layers; i++) {
    const empty = () => float32Tensor([1, kv.numKvHeads, 0, kv.headDim], new Float32Array(0));
    past[IO_NAMES.pastKey(i)] = empty();
    past[IO_NAMES.pastValue(i)] = empty();
  }

  const tokens: number[] = [];
  let firstAt = started;
  let lastAt = started;
  let input: readonly number[] = request.prompt;
  let seen = 0;
  let reason: StopReason = 'length';
  for (;;) {
    const out = await session.run({ ...stepFeeds(io, input, seen), ...past });
    seen += input.length;
    const id = pick(lastLogits(out[IO_NAMES.logits], input.length));
    lastAt = now();
    if (tokens.length === 0) firstAt = lastAt;
    tokens.push(id);
    request.onToken?.({ id, index: tokens.length - 1, elapsedMs: lastAt - started });

    if (stopIds.has(id)) reason = 'stop-token';
    else if (tokens.length >= request.maxNewTokens) reason = 'length';
    else if (request.maxPositions !== undefined && seen >= request.maxPositions) reason = 'context';
    else if (request.signal?.aborted) reason = 'stopped';
    else {
      past = nextPast(io, out);
      input = [id];
      await request.pause?.();
      if (!request.signal?.aborted) continue;
      reason = 'stopped';
    }
    break;
  }
  return { tokens, reason, prefillMs: firstAt - started, decodeMs: lastAt - firstAt };
}

/** input_ids, and the mask and positions when the graph takes them, for `ids` after `seen` tokens. */
function stepFeeds(io: DecoderIo, ids: readonly number[], seen: number): Record<string, SessionTensor> {
  const feeds: Record<string, SessionTensor> = {
    [IO_NAMES.inputIds]: int64Tensor([1, ids.length], [...ids]),
  };
  const total = seen + ids.length;
  if (io.attentionMask)
    feeds[IO_NAMES.attentionMask] = int64Tensor([1, total], new Array<number>(total).fill(1));
  if (io.positionIds) {
    feeds[IO_NAMES.positionIds] = int64Tensor(
      [1, ids.length],
      ids.map((_, i) => seen + i),
    );
  }
  return feeds;
}

/** The last row of logits [1, S, vocab] (or [1, vocab] from a graph that keeps only the last). */
function lastLogits(logits: SessionTensor | undefined, seq: number): Float32Array {
  if (!logits || !(logits.data instanceof Float32Array)) {
    throw new Error(`the model's ${IO_NAMES.logits} output is missing or not float32`);
  }
  const vocab = logits.dims[logits.dims.length - 1];
  const rows = logits.data.length / vocab;
  if (!Number.isInteger(rows) || rows < 1 || (rows !== seq && rows !== 1)) {
    throw new Error(`${IO_NAMES.logits} has shape [${logits.dims.join(', ')}]; expected [1, ${seq}, vocab]`);
  }
  return logits.data.subarray((rows - 1) * vocab, rows * vocab);
}

function nextPast(io: DecoderIo, out: Record<string, SessionTensor>): Record<string, SessionTensor> {
  const past: Record<string, SessionTensor> = {};
  for (let i = 0; i < io.layers; i++) {
    for (const [from, to] of [
      [IO_NAMES.presentKey(i), IO_NAMES.pastKey(i)],
      [IO_NAMES.presentValue(i), IO_NAMES.pastValue(i)],
    ]) {
      const t = out[from];
      if (!t) throw new Error(`the model returned no ${from}`);
      past[to] = t;
    }
  }
  return past;
}
