/**
 * Several sessions in one process, timed in interleaved rounds (A B C … then B C … A, rotating the
 * start), so a load change on a shared machine hits every entry alike and differences between them
 * stay meaningful. Used to split int2 decode time into per-layer and fixed (head) parts and to put
 * alternative heads next to it.
 *
 *   node --import tsx bench/lib/interleave-child.ts '<json InterleaveArgs>'
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkPrompt } from '../../src/core/check/runtime-check.ts';
import { decoderPromptFeeds, decoderStepFeeds, medianOf, sessionOptions } from './decode-child.ts';

export type InterleaveEntry =
  | { name: string; kind: 'decoder'; model: string; layers: number }
  | { name: string; kind: 'head'; model: string; xFile: string };

export interface InterleaveArgs {
  entries: InterleaveEntry[];
  threads: number;
  kvHeads: number;
  headDim: number;
  hidden: number;
  vocab: number;
  bos: number;
  prefillLength: number;
  warmupRounds: number;
  rounds: number;
  resultFile: string;
}

export interface InterleaveResult {
  rounds: number;
  entries: { name: string; sessionSeconds: number; stepsMs: number[]; meanMs: number; medianMs: number }[];
  rssMiB: number;
}

async function main(a: InterleaveArgs): Promise<InterleaveResult> {
  const prepared: {
    name: string;
    session: ort.InferenceSession;
    feeds: Record<string, ort.Tensor>;
    sessionSeconds: number;
    stepsMs: number[];
  }[] = [];
  for (const e of a.entries) {
    const t = performance.now();
    const session = await ort.InferenceSession.create(e.model, sessionOptions(a.threads));
    const sessionSeconds = (performance.now() - t) / 1000;
    let feeds: Record<string, ort.Tensor>;
    if (e.kind === 'decoder') {
      const prompt = checkPrompt(a.vocab, a.bos, a.prefillLength, 1);
      const prefilled = await session.run(decoderPromptFeeds(prompt, e.layers, a.kvHeads, a.headDim));
      feeds = decoderStepFeeds(prefilled, a.prefillLength, e.layers, a.vocab);
    } else {
      const b = readFileSync(e.xFile);
      const x = new Float32Array(b.buffer, b.byteOffset, a.hidden).slice();
      feeds = { x: new ort.Tensor('float32', x, [1, a.hidden]) };
    }
    prepared.push({ name: e.name, session, feeds, sessionSeconds, stepsMs: [] });
  }
  const n = prepared.length;
  for (let r = 0; r < a.warmupRounds + a.rounds; r++) {
    for (let i = 0; i < n; i++) {
      const p = prepared[(r + i) % n];
      const t = performance.now();
      await p.session.run(p.feeds);
      if (r >= a.warmupRounds) p.stepsMs.push(performance.now() - t);
    }
  }
  const rssMiB = process.memoryUsage().rss / (1 << 20);
  for (const p of prepared) await p.session.release();
  return {
    rounds: a.rounds,
    entries: prepared.map((p) => ({
      name: p.name,
      sessionSeconds: p.sessionSeconds,
      stepsMs: p.stepsMs,
      meanMs: p.stepsMs.reduce((x, y) => x + y, 0) / p.stepsMs.length,
      medianMs: medianOf(p.stepsMs),
    })),
    rssMiB,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const args = JSON.parse(process.argv[2]) as InterleaveArgs;
  writeFileSync(args.resultFile, JSON.stringify(await main(args), null, 2));
}
