/**
 * Generates the tiny BitNet test models (and deliberately broken ones) from the synthetic generator,
 * so no binary fixture is ever edited by hand. Tests call `makeFixtures` / `makeBadFixtures`; from the
 * shell: `npx tsx scripts/make-fixtures.ts [outDir]` (default test/.out/fixtures).
 *
 * Every file is written through the staging output target and renamed into place, and content depends
 * only on the code, so parallel test workers generating the same folder never see a half-written file.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BitNetDims, QuantVariant } from '../src/core/bitnet/dims.ts';
import { syntheticCheckpoint, type SyntheticOptions } from '../src/core/bitnet/synthetic.ts';
import type { ByteSink } from '../src/core/io/bytes.ts';
import { concatBytes } from '../src/core/onnx/wire.ts';
import { writeSafetensors, type SafetensorsTensorSpec } from '../src/core/safetensors/writer.ts';
import { createNodeOutputTarget } from '../src/platform/node/node-files.ts';

export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL('../test/.out/fixtures', import.meta.url));

/** One seed for all: tensors of the same name hold the same values in every fixture, so outputs compare. */
export const FIXTURE_SEED = 42;

export const TINY_DIMS: BitNetDims = {
  hiddenSize: 64,
  intermediateSize: 160,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  vocabSize: 320,
  maxPositions: 256,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

export const FIXTURE_NAMES = [
  'packed-tied',
  'packed-untied',
  'packed-legacy',
  'online-bf16',
  'packed-sharded',
  'packed-noprefix',
  'gqa4',
] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

export const FIXTURES: Record<FixtureName, SyntheticOptions & { shards?: number }> = {
  'packed-tied': fixture('packed-autobitlinear'),
  'packed-untied': fixture('packed-autobitlinear', { tiedEmbeddings: false }),
  'packed-legacy': fixture('packed-bitlinear'),
  'online-bf16': fixture('online-bf16'),
  'packed-sharded': { ...fixture('packed-autobitlinear'), shards: 2 },
  'packed-noprefix': { ...fixture('packed-autobitlinear'), embedName: 'embed_tokens.weight' },
  // Four query heads per kv head; head_dim follows hidden / heads, as in the released config.
  gqa4: fixture('packed-autobitlinear', { numHeads: 8, numKvHeads: 2, headDim: 8 }),
};

function fixture(variant: QuantVariant, dims: Partial<BitNetDims> = {}): SyntheticOptions {
  return { dims: { ...TINY_DIMS, ...dims }, variant, seed: FIXTURE_SEED };
}

/** Writes every fixture folder (config.json + checkpoint) under `outDir`; returns name → folder. */
export async function makeFixtures(outDir = DEFAULT_FIXTURES_DIR): Promise<Record<FixtureName, string>> {
  const paths = {} as Record<FixtureName, string>;
  for (const name of FIXTURE_NAMES) {
    const { shards = 1, ...opts } = FIXTURES[name];
    const { config, tensors } = syntheticCheckpoint(opts);
    paths[name] = path.join(outDir, name);
    await writeModelFolder(paths[name], config, splitIntoShards(tensors, shards));
  }
  return paths;
}

/** `shards` consecutive groups of whole tensors, each of about the same size. */
function splitIntoShards(tensors: SafetensorsTensorSpec[], shards: number): SafetensorsTensorSpec[][] {
  const total = tensors.reduce((n, t) => n + t.byteLength, 0);
  const groups: SafetensorsTensorSpec[][] = Array.from({ length: shards }, () => []);
  let done = 0;
  for (const t of tensors) {
    groups[Math.min(shards - 1, Math.floor((done * shards) / total))].push(t);
    done += t.byteLength;
  }
  return groups;
}

function shardName(i: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(count)}.safetensors`;
}

/** Writes whatever a file should hold into its (staged) sink. */
type FileContent = (sink: ByteSink) => Promise<void>;

/**
 * Writes the files through one staging target and renames each into `folder` only once complete, so
 * the folder never shows a half-written file, even to a test worker reading it while another
 * regenerates it (the content is the same either way).
 */
async function writeFolder(folder: string, files: [name: string, content: FileContent][]): Promise<void> {
  const target = createNodeOutputTarget(path.join(folder, files[0][0]));
  try {
    for (const [name, content] of files) {
      const sink = await target.create(name);
      await content(sink);
      await sink.close();
    }
    await target.commit();
  } catch (err) {
    await target.discard();
    throw err;
  }
}

/**
 * A model folder in the Hugging Face layout: one group → model.safetensors; several → numbered shards
 * plus model.safetensors.index.json. `omitShards` leaves some shards out while the index still names them.
 */
async function writeModelFolder(
  folder: string,
  config: object,
  groups: SafetensorsTensorSpec[][],
  omitShards: number[] = [],
): Promise<void> {
  const files: [string, FileContent][] = [['config.json', bytesContent(jsonBytes(config))]];
  if (groups.length === 1) {
    files.push(['model.safetensors', safetensorsContent(groups[0])]);
  } else {
    const weightMap: Record<string, string> = {};
    for (const [i, group] of groups.entries()) {
      const name = shardName(i, groups.length);
      for (const t of group) weightMap[t.name] = name;
      if (!omitShards.includes(i)) files.push([name, safetensorsContent(group)]);
    }
    const totalSize = groups.flat().reduce((n, t) => n + t.byteLength, 0);
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    files.push(['model.safetensors.index.json', bytesContent(jsonBytes(index))]);
  }
  await writeFolder(folder, files);
}

const safetensorsContent =
  (tensors: SafetensorsTensorSpec[]): FileContent =>
  async (sink) => {
    // `format: pt` is what torch-saved checkpoints (the released ones included) carry.
    await writeSafetensors(sink, tensors, { format: 'pt' });
  };

const bytesContent =
  (bytes: Uint8Array): FileContent =>
  (sink) =>
    sink.write(bytes);

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** A whole small safetensors file in memory (fixtures are kilobytes; never use this for real sizes). */
export async function safetensorsBytes(
  tensors: readonly SafetensorsTensorSpec[],
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await writeSafetensors(
    { write: async (b) => void parts.push(b.slice()), close: async () => {} },
    tensors,
    metadata,
  );
  return concatBytes(parts);
}

// ---------------------------------------------------------------------------------------------------
// Broken inputs for error tests.

export const BAD_FIXTURE_NAMES = [
  'corrupt-header-length',
  'invalid-json',
  'overlapping-offsets',
  'wrong-length',
  'unknown-dtype',
  'packed-code-3',
  'missing-tensor',
  'missing-shard',
] as const;
export type BadFixtureName = (typeof BAD_FIXTURE_NAMES)[number];

export interface BadFixture {
  /** The model folder to convert (config.json + the broken checkpoint). */
  path: string;
  /** The file the error message must name. */
  file: string;
  /** The tensor the error message must name, when the fault is in one tensor. */
  tensor?: string;
  /** Matches the problem part of the expected message. */
  problem: RegExp;
}

const BASE = FIXTURES['packed-tied'];
const Q0 = 'model.layers.0.self_attn.q_proj.weight';
const K0 = 'model.layers.0.self_attn.k_proj.weight';
const DOWN1 = 'model.layers.1.mlp.down_proj.weight';
const UP1_SCALE = 'model.layers.1.mlp.up_proj.weight_scale';
const NORM = 'model.norm.weight';

/** Byte of `DOWN1` that gets the never-valid code 3 in its lowest bits. */
export const CODE_3_BYTE_INDEX = 77;

type HeaderJson = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/** Writes every broken model under `<outDir>/bad/<name>/`; returns name → what the error must say. */
export async function makeBadFixtures(
  outDir = DEFAULT_FIXTURES_DIR,
): Promise<Record<BadFixtureName, BadFixture>> {
  const { config, tensors } = syntheticCheckpoint(BASE);
  const valid = await safetensorsBytes(tensors);
  const folder = (name: BadFixtureName) => path.join(outDir, 'bad', name);
  const single = 'model.safetensors';
  const withFile = (name: BadFixtureName, bytes: Uint8Array) =>
    writeFolder(folder(name), [
      ['config.json', bytesContent(jsonBytes(config))],
      [single, bytesContent(bytes)],
    ]);

  await withFile('corrupt-header-length', withHeaderLength(valid, BigInt(valid.length)));
  await withFile(
    'invalid-json',
    withHeaderText(valid, (text) => text.trimEnd().slice(0, -2)),
  );
  await withFile(
    'overlapping-offsets',
    withHeaderJson(valid, (h) => {
      h[K0].data_offsets = [h[K0].data_offsets[0] - 8, h[K0].data_offsets[1] - 8];
    }),
  );
  await withFile(
    'wrong-length',
    withHeaderJson(valid, (h) => {
      h[Q0].shape = [h[Q0].shape[0], h[Q0].shape[1] - 1];
    }),
  );
  await withFile(
    'unknown-dtype',
    withHeaderJson(valid, (h) => {
      h[NORM].dtype = 'Q4_0';
    }),
  );
  await writeModelFolder(folder('packed-code-3'), config, [
    tensors.map((t) => (t.name === DOWN1 ? withCode3(t) : t)),
  ]);
  await writeModelFolder(folder('missing-tensor'), config, [tensors.filter((t) => t.name !== UP1_SCALE)]);
  const shards = splitIntoShards(tensors, 2);
  await writeModelFolder(folder('missing-shard'), config, shards, [1]);

  return {
    'corrupt-header-length': {
      path: folder('corrupt-header-length'),
      file: single,
      problem: /header length/,
    },
    'invalid-json': { path: folder('invalid-json'), file: single, problem: /not valid JSON/ },
    'overlapping-offsets': {
      path: folder('overlapping-offsets'),
      file: single,
      tensor: K0,
      problem: /overlaps/,
    },
    'wrong-length': {
      path: folder('wrong-length'),
      file: single,
      tensor: Q0,
      problem: /length does not match/,
    },
    'unknown-dtype': { path: folder('unknown-dtype'), file: single, tensor: NORM, problem: /unknown dtype/ },
    'packed-code-3': {
      path: folder('packed-code-3'),
      file: single,
      tensor: DOWN1,
      problem: /code 3|invalid|corrupt/i,
    },
    'missing-tensor': {
      path: folder('missing-tensor'),
      file: single,
      tensor: UP1_SCALE,
      problem: /missing/i,
    },
    'missing-shard': {
      path: folder('missing-shard'),
      file: 'model.safetensors.index.json',
      tensor: shards[1][0].name,
      problem: /shard .*missing/,
    },
  };
}

function withCode3(t: SafetensorsTensorSpec): SafetensorsTensorSpec {
  return {
    ...t,
    async fill(emit) {
      let at = 0;
      await t.fill(async (bytes) => {
        const copy = bytes.slice();
        const i = CODE_3_BYTE_INDEX - at;
        if (i >= 0 && i < copy.length) copy[i] |= 0b11;
        at += bytes.length;
        await emit(copy);
      });
    },
  };
}

function headerOf(file: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { length, text: new TextDecoder().decode(file.subarray(8, 8 + length)) };
}

function withHeaderLength(file: Uint8Array, length: bigint): Uint8Array {
  const out = file.slice();
  new DataView(out.buffer).setBigUint64(0, length, true);
  return out;
}

/** Replaces the header text (re-padded to 8 bytes), keeping the data bytes as they were. */
function withHeaderText(file: Uint8Array, edit: (text: string) => string): Uint8Array {
  const { length, text } = headerOf(file);
  const json = new TextEncoder().encode(edit(text));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + file.length - 8 - length).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.set(file.subarray(8 + length), 8 + padded);
  return out;
}

function withHeaderJson(file: Uint8Array, edit: (header: HeaderJson) => void): Uint8Array {
  return withHeaderText(file, (text) => {
    const header = JSON.parse(text) as HeaderJson;
    edit(header);
    return JSON.stringify(header);
  });
}

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? DEFAULT_FIXTURES_DIR);
  const good = await makeFixtures(outDir);
  const bad = await makeBadFixtures(outDir);
  for (const [name, folder] of Object.entries(good)) console.log(`${name.padEnd(24)} ${folder}`);
  for (const [name, f] of Object.entries(bad)) console.log(`bad/${name.padEnd(20)} ${f.path}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
