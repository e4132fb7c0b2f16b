/**
 * Property-based fuzzing of everything that parses user files: the safetensors header, the shard index
 * and config.json. Random mutations of valid model folders (test/fuzz/mutations.ts) must each end one
 * of two ways: refused with a one-line ConversionError, or converted into a model that passes the
 * engine's structural validation. Never another exception, never a read past a file's end (a header
 * length of 2^40 is refused before anything is allocated), never an output out of proportion to the
 * input, never a hang (each case has a deadline far beyond its need), and nothing left in the target.
 *
 * Case counts: FUZZ_RUNS (default 300) for the in-memory engine path, FUZZ_CLI_RUNS (default 6) for the
 * real CLI; FUZZ_SEED replays a run. `FUZZ_RUNS=5000 FUZZ_CLI_RUNS=100 npx vitest run test/fuzz` is
 * the long local run.
 */
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, type FixtureName } from '../../scripts/make-fixtures.ts';
import { defaultFormat, type WeightFormat } from '../../src/core/formats/registry.ts';
import { convertModel } from '../../src/core/convert/convert.ts';
import { CheckFailedError, ConversionError } from '../../src/core/errors.ts';
import type { Kernels } from '../../src/core/kernels/kernels.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { runCli } from '../helpers/cli.ts';
import { MemoryTarget } from '../onnx/targets.ts';
import { memoryFiles, type MemoryFiles } from '../safetensors/memory-files.ts';
import { applyMutation, describeMutations, mutationArb, type Folder, type Mutation } from './mutations.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const CLI_RUNS = Number(process.env.FUZZ_CLI_RUNS ?? 6);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
/** A hang guard, not a speed check: a tiny model parses and converts in well under a second. */
const CASE_DEADLINE_MS = 60_000;

const BASES: FixtureName[] = ['packed-tied', 'packed-sharded', 'online-bf16', 'packed-untied'];

let root: string;
let bases: Record<string, Folder>;
let kernels: Kernels;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-fuzz-'));
  const dirs = await makeFixtures(path.join(root, 'fixtures'));
  bases = {};
  for (const name of BASES) {
    const folder: Folder = {};
    for (const f of readdirSync(dirs[name]))
      folder[f] = new Uint8Array(readFileSync(path.join(dirs[name], f)));
    bases[name] = folder;
  }
  kernels = await loadNodeKernels();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const caseArb = fc.record({
  base: fc.constantFrom(...BASES),
  mutations: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }),
  weights: fc.constantFrom<WeightFormat>('fp32', 'int8', 'int2'),
  /** Point at the folder, or at its checkpoint entry (a .safetensors or the index). */
  viaEntry: fc.boolean(),
});

function mutate(base: string, mutations: readonly Mutation[]): Folder {
  return mutations.reduce<Folder>((f, m) => applyMutation(f, m), bases[base]);
}

function entryOf(folder: Folder): string | undefined {
  const names = Object.keys(folder);
  return names.find((n) => n.endsWith('.index.json')) ?? names.find((n) => n.endsWith('.safetensors'));
}

function inputSize(folder: Folder): number {
  return Object.values(folder).reduce((n, b) => n + b.length, 0);
}

/** The contract of every refusal: a ConversionError (not a check failure), one line, not a novel. */
function expectCleanRefusal(e: unknown, what: string): void {
  if (!(e instanceof ConversionError) || e instanceof CheckFailedError) {
    throw new Error(`${what}: expected a ConversionError, got ${(e as Error)?.stack ?? String(e)}`);
  }
  expect(e.message, what).not.toMatch(/[\n\r]/);
  expect(e.message.length, what).toBeGreaterThan(0);
  expect(e.message.length, `${what}: ${e.message}`).toBeLessThan(1000);
}

const stats = { engine: { runs: 0, accepted: 0, refused: 0 }, cli: { runs: 0, accepted: 0, refused: 0 } };

describe('parser fuzzing', () => {
  it(
    `engine path: ${RUNS} mutated folders are each refused cleanly or converted validly`,
    { timeout: 120_000 + RUNS * 100 },
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ({ base, mutations, weights, viaEntry }) => {
          const folder = mutate(base, mutations);
          const what = `${base} ${describeMutations(mutations)}`;
          if (process.env.FUZZ_TRACE) {
            appendFileSync(
              process.env.FUZZ_TRACE,
              `${stats.engine.runs} ${Math.round(process.memoryUsage().heapUsed / 1e6)}MB ${weights} ${what}\n`,
            );
          }
          const input: MemoryFiles = memoryFiles(folder, viaEntry ? entryOf(folder) : undefined);
          const target = new MemoryTarget();
          stats.engine.runs++;
          let converted = false;
          try {
            await convertModel({ input, target, kernels, format: defaultFormat(weights) });
            converted = true;
          } catch (e) {
            expectCleanRefusal(e, what);
          }
          // Reads stay inside the files (MemorySource throws a RangeError otherwise, which fails above).
          for (const s of input.sources.values())
            for (const [, n] of s.reads) expect(n).toBeLessThanOrEqual(s.size);
          const written = [...target.files.values()].reduce((n, b) => n + b.length, 0);
          if (converted) {
            stats.engine.accepted++;
            expect(target.committed, what).toBe(true);
            // fp32 of 2-bit packed weights is 16× their size; anything far beyond is unbounded output.
            expect(written, what).toBeLessThan(64 * inputSize(folder) + (1 << 20));
          } else {
            stats.engine.refused++;
            expect(target.committed, what).toBe(false);
            expect(target.files.size, what).toBe(0);
          }
        }),
        { numRuns: RUNS, seed: SEED, timeout: CASE_DEADLINE_MS, verbose: 1 },
      );
      console.log(
        `fuzz engine: ${stats.engine.runs} cases, ${stats.engine.accepted} converted, ${stats.engine.refused} refused`,
      );
      // The mix must exercise both outcomes, or the mutations are too weak (or too strong) to mean anything.
      expect(stats.engine.refused).toBeGreaterThan(0);
      if (RUNS >= 50) expect(stats.engine.accepted).toBeGreaterThan(0);
    },
  );

  it('a header length of 2^40 (and 2^64 - 1) is refused from the 8-byte prefix alone', async () => {
    for (const length of [2n ** 40n, 2n ** 64n - 1n]) {
      const folder = applyMutation(bases['packed-tied'], { kind: 'header-length', file: 0, length });
      const input = memoryFiles(folder);
      const target = new MemoryTarget();
      const err = await convertModel({ input, target, kernels }).catch((e: unknown) => e);
      expectCleanRefusal(err, `length ${length}`);
      expect((err as Error).message).toMatch(/header length is absurd/);
      // Only the prefix of the checkpoint was read: nothing sized by the lying length was allocated.
      expect(input.sources.get('model.safetensors')!.reads).toEqual([[0, 8]]);
    }
  });

  it('found by fuzzing: num_hidden_layers 2^53 + 2 is refused after a bounded count, not a plan per layer', async () => {
    const folder = applyMutation(bases['packed-untied'], {
      kind: 'config-field',
      key: 'num_hidden_layers',
      value: 2 ** 53 + 2,
    });
    const err = await convertModel({ input: memoryFiles(folder), target: new MemoryTarget(), kernels }).catch(
      (e: unknown) => e,
    );
    expectCleanRefusal(err, 'num_hidden_layers 2^53 + 2');
    expect((err as Error).message).toMatch(
      /missing 10\d\d or more tensors: .*; expected the tensors of 9007199254740994 layers \(num_hidden_layers\)/,
    );
  });

  it(
    `CLI path: ${CLI_RUNS} mutated folders on disk, one line and exit 1 or a written model, nothing else left`,
    { timeout: 120_000 + CLI_RUNS * 30_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ({ base, mutations, weights, viaEntry }) => {
          const folder = mutate(base, mutations);
          const what = `${base} ${describeMutations(mutations)}`;
          const n = stats.cli.runs++;
          const dir = path.join(root, 'cli', `in-${n}`);
          mkdirSync(dir, { recursive: true });
          for (const [name, bytes] of Object.entries(folder)) writeFileSync(path.join(dir, name), bytes);
          const entry = entryOf(folder);
          const out = path.join(root, 'cli', `out-${n}`);
          const run = runCli([
            '-i',
            viaEntry && entry ? path.join(dir, entry) : dir,
            '-o',
            path.join(out, 'model.onnx'),
            '--format',
            weights,
            '--no-check',
          ]);
          expect(run.stderr, what).not.toMatch(/^\s+at /m);
          expect(run.stderr, what).not.toMatch(/internal error/);
          const left = (() => {
            try {
              return readdirSync(out);
            } catch {
              return [];
            }
          })();
          if (run.status === 0) {
            stats.cli.accepted++;
            expect(run.stderr, what).toMatch(/check structure: ok/);
            expect(left, what).toEqual(['model.onnx']);
          } else {
            stats.cli.refused++;
            expect(run.status, `${what}\n${run.stderr}`).toBe(1);
            const lines = run.stderr.trim().split('\n');
            expect(lines[lines.length - 1], what).toMatch(/^bitnet2onnx: \S/);
            expect(left, what).toEqual([]);
          }
          rmSync(path.join(root, 'cli'), { recursive: true, force: true });
        }),
        { numRuns: CLI_RUNS, seed: SEED, timeout: CASE_DEADLINE_MS * 5, verbose: 1 },
      );
      console.log(
        `fuzz CLI: ${stats.cli.runs} cases, ${stats.cli.accepted} converted, ${stats.cli.refused} refused`,
      );
    },
  );
});
