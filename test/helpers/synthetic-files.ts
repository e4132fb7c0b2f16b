import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { syntheticCheckpoint, type SyntheticOptions } from '../../src/core/bitnet/synthetic.ts';
import { writeSafetensors } from '../../src/core/safetensors/writer.ts';
import { NodeFileSink } from '../../src/platform/node/node-files.ts';

/** Writes a synthetic checkpoint folder (config.json + model.safetensors), streaming. */
export async function writeSafetensorsFile(dir: string, opts: SyntheticOptions): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const { config, tensors } = syntheticCheckpoint(opts);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const sink = await NodeFileSink.create(path.join(dir, 'model.safetensors'));
  await writeSafetensors(sink, tensors);
  await sink.close();
  return dir;
}
