/**
 * The peer's decode measurement: llama.cpp (node-llama-cpp 3.21.1, prebuilt CPU binaries, installed on demand
 * into bench/peers/llamacpp/node_modules) on a TQ2_0 GGUF of the same synthetic weights, in its own process,
 * with the same definitions as bench/lib/decode-child.ts:
 *   - load = loadModel (mmap, llama.cpp's default) + createContext; getLlama (loading the native binding, which
 *     onnxruntime-node does at import, outside our timer) is reported apart;
 *   - prefill = `prefillLength` prompt tokens ÷ the time to the first (greedy) token, on a cleared sequence;
 *     one untimed run, then `prefillRuns` timed runs, median;
 *   - decode = median of one-token steps, each the prefill's next token at position `prefillLength` against
 *     the real `prefillLength`-position cache (the step's own cache entry is erased after each step, untimed,
 *     so every step runs at the same past length), each including llama.cpp's greedy pick.
 *
 *   node --import tsx bench/lib/llama-child.ts '<json LlamaChildArgs>'
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchPrompt, medianOf } from './common.ts';

export interface LlamaChildArgs {
  /** The folder holding node-llama-cpp's node_modules (bench/peers/llamacpp). */
  peerDir: string;
  gguf: string;
  threads: number;
  prefillLength: number;
  prefillRuns: number;
  warmupSteps: number;
  minDecodeSteps: number;
  minDecodeSeconds: number;
  maxDecodeSteps: number;
  resultFile: string;
}

export interface LlamaChildResult {
  version: string;
  loadSeconds: number;
  loadParts: { getLlama: number; loadModel: number; createContext: number };
  threads: number;
  prefill: { tokens: number; runsSeconds: number[]; tokensPerSecond: number; warmupSeconds: number };
  decode: { pastLength: number; warmupMs: number[]; stepsMs: number[]; medianMs: number; meanMs: number };
  firstTokens: number[];
  rssEndMiB: number;
}

/** The slice of node-llama-cpp's API this file uses (its types live in the peer folder, outside tsc's view). */
interface Sequence {
  clearHistory(): Promise<void>;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  readonly nextTokenIndex: number;
  controlledEvaluate(
    input: (number | [number, { generateNext?: { token?: boolean; options?: { temperature?: number } } }])[],
  ): Promise<({ next: { token?: number | null } } | undefined)[]>;
}
interface Context {
  getSequence(): Sequence;
  readonly currentThreads: number;
  dispose(): Promise<void>;
}
interface Model {
  createContext(o: {
    contextSize: number;
    batchSize: number;
    threads: number;
    sequences: number;
  }): Promise<Context>;
  readonly fileInfo: { tensorInfo?: { name: string; dimensions: (number | bigint)[] }[] };
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string }): Promise<Model>;
  dispose(): Promise<void>;
}
interface NodeLlamaCpp {
  getLlama(o: {
    gpu: false;
    build: 'never';
    logLevel: unknown;
    logger: (l: string, m: string) => void;
  }): Promise<Llama>;
  LlamaLogLevel: { error: unknown };
}

async function main(a: LlamaChildArgs): Promise<LlamaChildResult> {
  const pkgDir = path.join(a.peerDir, 'node_modules', 'node-llama-cpp');
  const lib = (await import(pathToFileURL(path.join(pkgDir, 'dist', 'index.js')).href)) as NodeLlamaCpp;
  const { readFileSync } = await import('node:fs');
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string })
    .version;

  const t0 = performance.now();
  const llama = await lib.getLlama({
    gpu: false,
    build: 'never',
    logLevel: lib.LlamaLogLevel.error,
    logger: (level, msg) => {
      if (level === 'error' || level === 'fatal') process.stderr.write(msg.endsWith('\n') ? msg : `${msg}\n`);
    },
  });
  const t1 = performance.now();
  const model = await llama.loadModel({ modelPath: a.gguf });
  const t2 = performance.now();
  const context = await model.createContext({
    contextSize: 512,
    batchSize: 512,
    threads: a.threads,
    sequences: 1,
  });
  const t3 = performance.now();
  const sequence = context.getSequence();
  const embd = model.fileInfo.tensorInfo?.find((t) => t.name === 'token_embd.weight');
  const vocab = Number(embd?.dimensions[1] ?? 32000);
  const prompt = benchPrompt(vocab, a.prefillLength);

  const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
  const prefillOnce = async (): Promise<{ seconds: number; next: number }> => {
    await sequence.clearHistory();
    const input: Parameters<Sequence['controlledEvaluate']>[0] = prompt.slice(0, -1);
    input.push([prompt[prompt.length - 1], greedy]);
    const t = performance.now();
    const out = await sequence.controlledEvaluate(input);
    const seconds = (performance.now() - t) / 1000;
    const next = out[out.length - 1]?.next.token;
    if (next == null) throw new Error('llama.cpp returned no token after the prompt');
    return { seconds, next };
  };
  const warm = await prefillOnce();
  const runs: number[] = [];
  let next = warm.next;
  for (let r = 0; r < a.prefillRuns; r++) {
    const p = await prefillOnce();
    runs.push(p.seconds);
    next = p.next;
  }
  if (sequence.nextTokenIndex !== a.prefillLength)
    throw new Error(
      `after prefill the sequence holds ${sequence.nextTokenIndex} tokens, not ${a.prefillLength}`,
    );

  const firstTokens: number[] = [next];
  const step = async (): Promise<number> => {
    const t = performance.now();
    const out = await sequence.controlledEvaluate([[next, greedy]]);
    const ms = performance.now() - t;
    const tok = out[0]?.next.token;
    if (tok == null) throw new Error('llama.cpp returned no token for a decode step');
    if (firstTokens.length < 2) firstTokens.push(tok);
    await sequence.eraseContextTokenRanges([{ start: a.prefillLength, end: a.prefillLength + 1 }]);
    if (sequence.nextTokenIndex !== a.prefillLength)
      throw new Error(`erasing the step left ${sequence.nextTokenIndex} tokens, not ${a.prefillLength}`);
    return ms;
  };
  const warmupMs: number[] = [];
  for (let s = 0; s < a.warmupSteps; s++) warmupMs.push(await step());
  const stepsMs: number[] = [];
  const start = performance.now();
  while (
    stepsMs.length < a.maxDecodeSteps &&
    (stepsMs.length < a.minDecodeSteps || performance.now() - start < a.minDecodeSeconds * 1000)
  )
    stepsMs.push(await step());

  const result: LlamaChildResult = {
    version,
    loadSeconds: (t3 - t1) / 1000,
    loadParts: { getLlama: (t1 - t0) / 1000, loadModel: (t2 - t1) / 1000, createContext: (t3 - t2) / 1000 },
    threads: context.currentThreads,
    prefill: {
      tokens: a.prefillLength,
      runsSeconds: runs,
      tokensPerSecond: a.prefillLength / medianOf(runs),
      warmupSeconds: warm.seconds,
    },
    decode: {
      pastLength: a.prefillLength,
      warmupMs,
      stepsMs,
      medianMs: medianOf(stepsMs),
      meanMs: stepsMs.reduce((x, y) => x + y, 0) / stepsMs.length,
    },
    firstTokens,
    rssEndMiB: process.memoryUsage().rss / (1 << 20),
  };
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return result;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const args = JSON.parse(process.argv[2]) as LlamaChildArgs;
  writeFileSync(args.resultFile, JSON.stringify(await main(args), null, 2));
}
