/**
 * Puts the web app's bundled sample in public/sample/: the small trained BitNet b1.58 kept in
 * samples/bitnet-b1.58-licenses/ (4 layers, trained byte by byte on the software licenses Debian
 * ships, in the released packed format: autobitlinear, U8 ternary weights + bf16 scales, tied
 * embeddings) with its byte-level tokenizer (scripts/make-byte-tokenizer.ts), a generation_config.json
 * and the index.json the page reads. Run at build time (`npm run build`, `npm start`); the output is
 * not versioned. Usage: `npx tsx scripts/make-sample.ts [outDir]`.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BitNetDims } from '../src/core/bitnet/dims.ts';
import { createNodeOutputTarget } from '../src/platform/node/node-files.ts';
import { SAMPLE_SOURCE } from './make-byte-tokenizer.ts';

export { SAMPLE_SOURCE };
export const SAMPLE_DIR = fileURLToPath(new URL('../public/sample', import.meta.url));

/** The sample's dimensions, as its config.json states them (a test keeps the two in step). */
export const SAMPLE_DIMS: BitNetDims = {
  hiddenSize: 256,
  intermediateSize: 704,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 64,
  vocabSize: 384,
  maxPositions: 512,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

export const SAMPLE_LABEL =
  'Sample: a small BitNet b1.58 trained on software licenses (4 layers, byte-level)';

/** The start of a sentence from the training texts, offered in the generation panel. */
export const SAMPLE_PROMPT = 'THE SOFTWARE IS PROVIDED';

/** Copied unchanged from samples/ (the checkpoint, its config and tokenizer). */
export const SAMPLE_COPIED = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
] as const;

/** Names listed in index.json, which the page fetches to know what the sample consists of. */
export const SAMPLE_FILES = [...SAMPLE_COPIED, 'generation_config.json'] as const;

export async function makeSample(outDir = SAMPLE_DIR, source = SAMPLE_SOURCE): Promise<string[]> {
  const config = JSON.parse(await readFile(path.join(source, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  // Greedy by default: the page shows the model's most likely continuation unless sampling is chosen.
  const generation = {
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
    do_sample: false,
    max_length: config.max_position_embeddings,
  };
  const index = { label: SAMPLE_LABEL, files: SAMPLE_FILES, prompt: SAMPLE_PROMPT };

  await mkdir(outDir, { recursive: true });
  // Staged and renamed into place: a dev server reading the folder never sees half a file.
  const target = createNodeOutputTarget(path.join(outDir, 'index.json'));
  try {
    const write = async (name: string, bytes: Uint8Array) => {
      const sink = await target.create(name);
      await sink.write(bytes);
      await sink.close();
    };
    const text = (name: string, value: unknown) =>
      write(name, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
    for (const name of SAMPLE_COPIED) await write(name, await readFile(path.join(source, name)));
    await text('generation_config.json', generation);
    await text('index.json', index);
    await target.commit();
  } catch (e) {
    await target.discard();
    throw e;
  }
  return [...SAMPLE_FILES, 'index.json'];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = path.resolve(process.argv[2] ?? SAMPLE_DIR);
  // Always regenerated: it takes well under a second and the sources may have changed.
  await rm(outDir, { recursive: true, force: true });
  const files = await makeSample(outDir);
  console.log(`sample model: ${files.join(', ')} → ${path.relative(process.cwd(), outDir) || '.'}`);
}
