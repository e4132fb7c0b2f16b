/**
 * Generates the web app's bundled sample: a tiny BitNet b1.58 checkpoint in the released packed format
 * (autobitlinear, U8 ternary weights + bf16 scales), made by the same deterministic generator as the
 * test fixtures. Run at build time (`npm run build`, `npm start`); the output in public/sample/ is not
 * versioned. Usage: `npx tsx scripts/make-sample.ts [outDir]`.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BitNetDims } from '../src/core/bitnet/dims.ts';
import { syntheticCheckpoint } from '../src/core/bitnet/synthetic.ts';
import { writeSafetensors } from '../src/core/safetensors/writer.ts';
import { createNodeOutputTarget } from '../src/platform/node/node-files.ts';

export const SAMPLE_DIR = fileURLToPath(new URL('../public/sample', import.meta.url));

/** Small enough to bundle (≈1.2 MB in, ≈11 MB out), big enough to show progress and GQA. */
export const SAMPLE_DIMS: BitNetDims = {
  hiddenSize: 256,
  intermediateSize: 640,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 2,
  headDim: 32,
  vocabSize: 1024,
  maxPositions: 512,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  tiedEmbeddings: true,
};

export const SAMPLE_SEED = 1158;
export const SAMPLE_LABEL = 'Sample: tiny BitNet b1.58 (4 layers, packed ternary, synthetic weights)';

/** Names listed in index.json, which the page fetches to know what the sample consists of. */
export const SAMPLE_FILES = ['config.json', 'generation_config.json', 'model.safetensors'] as const;

export async function makeSample(outDir = SAMPLE_DIR): Promise<string[]> {
  const { config, tensors } = syntheticCheckpoint({
    dims: SAMPLE_DIMS,
    variant: 'packed-autobitlinear',
    seed: SAMPLE_SEED,
  });
  const generation = {
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
    do_sample: false,
    max_length: SAMPLE_DIMS.maxPositions,
  };
  const index = { label: SAMPLE_LABEL, files: SAMPLE_FILES };

  await mkdir(outDir, { recursive: true });
  // Staged and renamed into place: a dev server reading the folder never sees half a file.
  const target = createNodeOutputTarget(path.join(outDir, 'index.json'));
  try {
    const text = async (name: string, value: unknown) => {
      const sink = await target.create(name);
      await sink.write(new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
      await sink.close();
    };
    await text('config.json', config);
    await text('generation_config.json', generation);
    const sink = await target.create('model.safetensors');
    await writeSafetensors(sink, tensors, { format: 'pt' });
    await sink.close();
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
  // Always regenerated: it takes well under a second and the generator may have changed.
  await rm(outDir, { recursive: true, force: true });
  const files = await makeSample(outDir);
  console.log(`sample model: ${files.join(', ')} → ${path.relative(process.cwd(), outDir) || '.'}`);
}
