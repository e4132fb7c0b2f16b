/**
 * The decode loop (src/core/generate) over the bundled sample converted by the real CLI and run in
 * onnxruntime-node: greedy tokens equal the reference forward pass's, for every weight format, and the
 * loop's stop rules, sampling and errors behave as documented.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_SOURCE } from '../../scripts/make-sample.ts';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import type { DecoderSession } from '../../src/core/check/decoder-session.ts';
import { greedyGenerate } from '../../src/core/check/reference-forward.ts';
import type { ReferenceWeights } from '../../src/core/check/reference-input.ts';
import { loadReferenceWeights } from '../../src/core/check/reference-weights.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { decoderIo, generate, type KvShape } from '../../src/core/generate/decode-loop.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { openNodeInput } from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';
import { runCli } from '../helpers/cli.ts';
import { greedyPath } from '../helpers/greedy-path.ts';

/**
 * The sample's README (samples/bitnet-b1.58-licenses/README.md) gives these greedy continuations,
 * measured with an independent float64 forward pass.
 */
const README_CONTINUATIONS = [
  ['You should have received a copy of the GNU', ' Lesser General Public License for any license fro'],
  ['THE SOFTWARE IS PROVIDED', ' INACCURATE OR LOSSES SUSTAINED BY APPLICABLE LAW '],
] as const;

/** Greedy paths closer to a tie than this are not compared token for token (see greedy-path.ts). */
const MIN_LOGIT_GAP = 0.05;

const FORMATS = {
  fp32: ['--format', 'fp32'],
  int8: ['--format', 'int8'],
  int2: ['--format', 'int2'],
  'int2, q8 head': ['--format', 'int2', '--head', 'q8'],
  'int2, q4 head': ['--format', 'int2', '--head', 'q4'],
} as const;
type FormatName = keyof typeof FORMATS;

const bytes = (text: string) => [...new TextEncoder().encode(text)];
const text = (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids));

let root: string;
let dims: BitNetDims;
let kv: KvShape;
let weights: ReferenceWeights;
const models = {} as Record<FormatName, string>;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-generate-'));
  const input = await openNodeInput(SAMPLE_SOURCE);
  try {
    const { plan } = await inspectModel(input);
    dims = plan.dims;
    kv = { numKvHeads: dims.numKvHeads, headDim: dims.headDim };
    weights = await loadReferenceWeights(plan, await loadNodeKernels());
  } finally {
    await input.close();
  }
  for (const [name, args] of Object.entries(FORMATS) as [FormatName, readonly string[]][]) {
    const out = path.join(root, name.replace(/\W+/g, '-'), 'model.onnx');
    const run = runCli(['-i', SAMPLE_SOURCE, '-o', out, ...args]);
    if (run.status !== 0) throw new Error(`conversion to ${name} failed:\n${run.stderr}`);
    models[name] = out;
  }
}, 300_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function withSession<T>(name: FormatName, run: (s: DecoderSession) => Promise<T>): Promise<T> {
  const session = await openNodeSession(models[name]);
  try {
    return await run(session);
  } finally {
    await session.release();
  }
}

describe('the reference forward pass on the bundled sample', () => {
  it.each(README_CONTINUATIONS)('continues %j as its README says', (prompt, continuation) => {
    const tokens = greedyGenerate(dims, weights, bytes(prompt), bytes(continuation).length);
    expect(text(tokens)).toBe(continuation);
  });
});

describe('greedy generation in onnxruntime-node equals the reference', () => {
  const [, [prompt, continuation]] = README_CONTINUATIONS;

  it.each(Object.keys(FORMATS) as FormatName[])(
    '%s: the README prompt clear of ties, token for token',
    async (name) => {
      const ref = greedyPath(dims, weights, bytes(prompt), bytes(continuation).length);
      // This prompt's path is clear of ties, so every correct implementation must agree on it.
      expect(ref.minLogitGap).toBeGreaterThan(MIN_LOGIT_GAP);
      const seen: number[] = [];
      const result = await withSession(name, (s) =>
        generate(s, kv, {
          prompt: bytes(prompt),
          maxNewTokens: ref.tokens.length,
          sampling: { kind: 'greedy' },
          onToken: (t) => seen.push(t.id),
        }),
      );
      expect(result.tokens).toEqual(ref.tokens);
      expect(seen).toEqual(ref.tokens);
      expect(result.reason).toBe('length');
      expect(text(result.tokens)).toBe(continuation);
    },
  );

  it.each(['fp32', 'int8'] as const)(
    '%s: on the README prompt that passes a near-tie, the tokens agree up to that step',
    async (name) => {
      const [first, firstContinuation] = README_CONTINUATIONS[0];
      const steps = bytes(firstContinuation).length;
      const ref = greedyPath(dims, weights, bytes(first), steps);
      // The first step whose top-2 gap is small: up to there, agreement is required.
      const clear = ref.gaps.findIndex((g) => g <= MIN_LOGIT_GAP);
      const result = await withSession(name, (s) =>
        generate(s, kv, { prompt: bytes(first), maxNewTokens: steps, sampling: { kind: 'greedy' } }),
      );
      expect(clear).toBeGreaterThan(10);
      expect(result.tokens.slice(0, clear)).toEqual(ref.tokens.slice(0, clear));
    },
  );
});

describe('the decode loop', () => {
  const prompt = bytes('Permission is hereby granted');

  it('reads the layers off the session names, and names what a non-decoder lacks', async () => {
    await withSession('fp32', async (s) => {
      expect(decoderIo(s)).toEqual({ layers: dims.numLayers, attentionMask: true, positionIds: true });
    });
    expect(() => decoderIo({ inputNames: ['input_ids'], outputNames: ['logits'] })).toThrow(
      /lacks input past_key_values\.0\.key/,
    );
    expect(() =>
      decoderIo({ inputNames: ['input_ids', 'past_key_values.0.key'], outputNames: ['logits'] }),
    ).toThrow(/past_key_values\.0\.value.*present\.0\.key.*present\.0\.value/);
  });

  it('stops after the running step when aborted, keeping the tokens so far', async () => {
    const abort = new AbortController();
    const result = await withSession('int8', (s) =>
      generate(s, kv, {
        prompt,
        maxNewTokens: 50,
        sampling: { kind: 'greedy' },
        signal: abort.signal,
        onToken: (t) => {
          if (t.index === 2) abort.abort();
        },
      }),
    );
    expect(result.reason).toBe('stopped');
    expect(result.tokens).toEqual(greedyGenerate(dims, weights, prompt, 3));
  });

  it('ends at a stop id (included) and at the end of the context', async () => {
    const ref = greedyGenerate(dims, weights, prompt, 6);
    await withSession('fp32', async (s) => {
      const atStop = await generate(s, kv, {
        prompt,
        maxNewTokens: 20,
        sampling: { kind: 'greedy' },
        stopIds: [ref[3]],
      });
      expect(atStop.tokens).toEqual(ref.slice(0, ref.indexOf(ref[3]) + 1));
      expect(atStop.reason).toBe('stop-token');
      const full = await generate(s, kv, {
        prompt,
        maxNewTokens: 20,
        sampling: { kind: 'greedy' },
        maxPositions: prompt.length + 4,
      });
      expect(full.tokens).toEqual(ref.slice(0, 5));
      expect(full.reason).toBe('context');
    });
  });

  it('sampling repeats for a seed, and top-k 1 is greedy', async () => {
    await withSession('fp32', async (s) => {
      const sample = (seed: number, topK = 0) =>
        generate(s, kv, {
          prompt,
          maxNewTokens: 24,
          sampling: { kind: 'sample', temperature: 1.2, topK, seed },
        }).then((r) => r.tokens);
      const a = await sample(11);
      expect(await sample(11)).toEqual(a);
      expect(await sample(12)).not.toEqual(a);
      expect(await sample(13, 1)).toEqual(greedyGenerate(dims, weights, prompt, 24));
    });
  });

  it('refuses an empty prompt, a bad count and a prompt that fills the context, before running', async () => {
    await withSession('fp32', async (s) => {
      const greedy = { kind: 'greedy' } as const;
      await expect(generate(s, kv, { prompt: [], maxNewTokens: 4, sampling: greedy })).rejects.toThrow(
        /prompt is empty/,
      );
      await expect(generate(s, kv, { prompt, maxNewTokens: 0, sampling: greedy })).rejects.toThrow(
        /max new tokens must be an integer ≥ 1, got 0/,
      );
      await expect(
        generate(s, kv, { prompt, maxNewTokens: 4, sampling: greedy, maxPositions: prompt.length }),
      ).rejects.toThrow(/context holds/);
    });
  });
});
