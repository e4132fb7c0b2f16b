import { afterEach, describe, expect, it, vi } from 'vitest';
import { syntheticCheckpoint } from '../../src/core/bitnet/synthetic.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { planOutput } from '../../src/core/convert/output-plan.ts';
import { browserInputFiles } from '../../src/platform/browser/input-files.ts';
import { defaultFormat } from '../../src/core/formats/registry.ts';
import { describeProblem } from '../../src/worker/problems.ts';
import { checkStorageRoom } from '../../src/worker/storage-room.ts';
import { safetensorsBytes } from '../../scripts/make-fixtures.ts';
import { SAMPLE_DIMS } from '../../scripts/make-sample.ts';

/** The bytes the sample's single fp32 model file needs, as the worker plans them. */
async function sampleBytes(): Promise<number> {
  const input = await sampleInput();
  const plan = await planOutput(await inspectModel(input), input, {
    layout: 'single',
    formats: [defaultFormat('fp32')],
    external: 'auto',
    copyThrough: false,
  });
  return plan.totalBytes;
}

async function sampleInput() {
  const { config, tensors } = syntheticCheckpoint({
    dims: SAMPLE_DIMS,
    variant: 'packed-autobitlinear',
    seed: 1,
  });
  return browserInputFiles([
    { path: 'config.json', blob: new Blob([JSON.stringify(config)]) },
    {
      path: 'model.safetensors',
      blob: new Blob([(await safetensorsBytes(tensors)) as Uint8Array<ArrayBuffer>]),
    },
  ]);
}

const withQuota = (quota: number, usage: number) =>
  vi.stubGlobal('navigator', { storage: { estimate: async () => ({ quota, usage }) } });

afterEach(() => vi.unstubAllGlobals());

describe('checkStorageRoom', () => {
  it('lets a conversion that fits start', async () => {
    withQuota(10e9, 1e9);
    await expect(checkStorageRoom(await sampleBytes())).resolves.toBeUndefined();
  });

  it('stops one that cannot fit before any work, saying what to do', async () => {
    withQuota(20e6, 15e6);
    const error = await checkStorageRoom(await sampleBytes()).catch((e: unknown) => e);
    const problem = describeProblem(error);
    expect(problem.kind).toBe('environment');
    expect(problem.message).toMatch(
      /not enough browser storage for the output: it needs 13 MB, this site may use 5 MB/,
    );
    expect(problem.hint).toMatch(/folder on this computer/);
  });

  it('says nothing where the browser gives no estimate', async () => {
    vi.stubGlobal('navigator', {});
    await expect(checkStorageRoom(await sampleBytes())).resolves.toBeUndefined();
  });
});
