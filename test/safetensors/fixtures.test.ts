/** The generated fixtures (scripts/make-fixtures.ts) read back through the Node input and the checkpoint reader. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint, readTensorBytes, type Checkpoint } from '../../src/core/safetensors/checkpoint.ts';
import { openNodeInput, type NodeInputFiles } from '../../src/platform/node/node-files.ts';
import {
  BAD_FIXTURE_NAMES,
  CODE_3_BYTE_INDEX,
  FIXTURE_NAMES,
  makeBadFixtures,
  makeFixtures,
  type BadFixture,
  type BadFixtureName,
  type FixtureName,
} from '../../scripts/make-fixtures.ts';
import { conversionError, expectWellFormed } from './memory-files.ts';

let dir: string;
let good: Record<FixtureName, string>;
let bad: Record<BadFixtureName, BadFixture>;
const inputs: NodeInputFiles[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fixtures-'));
  good = await makeFixtures(dir);
  bad = await makeBadFixtures(dir);
});
afterAll(async () => {
  await Promise.all(inputs.map((i) => i.close()));
  await rm(dir, { recursive: true, force: true });
});

async function input(folder: string): Promise<NodeInputFiles> {
  const files = await openNodeInput(folder);
  inputs.push(files);
  return files;
}

async function open(folder: string): Promise<{ ckpt: Checkpoint; config: Record<string, unknown> }> {
  const ckpt = await openCheckpoint(await input(folder));
  const config = JSON.parse(await readFile(path.join(folder, 'config.json'), 'utf8'));
  return { ckpt, config };
}

async function bytesOf(ckpt: Checkpoint, name: string): Promise<Uint8Array> {
  const t = ckpt.get(name)!;
  return readTensorBytes(t, 0, t.byteLength);
}

describe('makeFixtures', () => {
  it('writes every fixture folder and nothing half-written', async () => {
    expect(Object.keys(good)).toEqual([...FIXTURE_NAMES]);
    for (const folder of Object.values(good)) {
      const names = await readdir(folder);
      expect(names).toContain('config.json');
      expect(names.filter((n) => n.includes('.partial-'))).toEqual([]);
    }
  });

  it('packed-tied matches the brief: 2 layers, hidden 64, tied, autobitlinear', async () => {
    const { ckpt, config } = await open(good['packed-tied']);
    expect(config).toMatchObject({
      hidden_size: 64,
      intermediate_size: 160,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 320,
      max_position_embeddings: 256,
      rope_theta: 10000,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: true,
    });
    expect(ckpt.tensors.size).toBe(1 + 2 * 18 + 1);
    expect(ckpt.get('model.layers.1.mlp.down_proj.weight')?.shape).toEqual([16, 160]);
    expect(ckpt.get('lm_head.weight')).toBeUndefined();
  });

  it('each variant carries what makes it that variant', async () => {
    const untied = await open(good['packed-untied']);
    expect(untied.ckpt.get('lm_head.weight')?.shape).toEqual([320, 64]);
    expect((await open(good['packed-legacy'])).config.quantization_config).toMatchObject({
      linear_class: 'bitlinear',
    });
    const online = await open(good['online-bf16']);
    expect(online.ckpt.get('model.layers.0.self_attn.q_proj.weight')?.dtype).toBe('BF16');
    expect((await open(good['packed-noprefix'])).ckpt.get('embed_tokens.weight')).toBeDefined();
    const gqa = await open(good.gqa4);
    expect(gqa.config).toMatchObject({ num_attention_heads: 8, num_key_value_heads: 2 });
    expect(gqa.ckpt.get('model.layers.0.self_attn.k_proj.weight')?.shape).toEqual([4, 64]);
  });

  it('packed-sharded holds the same tensors, byte for byte, as packed-tied', async () => {
    const sharded = (await open(good['packed-sharded'])).ckpt;
    const single = (await open(good['packed-tied'])).ckpt;
    expect(sharded.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect([...sharded.tensors.keys()].sort()).toEqual([...single.tensors.keys()].sort());
    for (const name of single.tensors.keys()) {
      expect(await bytesOf(sharded, name)).toEqual(await bytesOf(single, name));
    }
  });

  it('regenerating over existing fixtures gives identical files', async () => {
    const file = path.join(good['packed-tied'], 'model.safetensors');
    const before = await readFile(file);
    await makeFixtures(dir);
    expect(await readFile(file)).toEqual(before);
  });
});

describe('makeBadFixtures', () => {
  const headerFaults = [
    'corrupt-header-length',
    'invalid-json',
    'overlapping-offsets',
    'wrong-length',
    'unknown-dtype',
  ] as const;

  it('builds every broken model', () => {
    expect(Object.keys(bad)).toEqual([...BAD_FIXTURE_NAMES]);
  });

  it.each(headerFaults)('%s fails to open with a message naming file and tensor', async (name) => {
    const fault = bad[name];
    const err = await conversionError(async () => openCheckpoint(await input(fault.path)));
    expectWellFormed(err, fault.file, fault.tensor);
    expect(err.message).toMatch(fault.problem);
  });

  it('missing-shard fails to open, naming the index and the absent shard', async () => {
    const fault = bad['missing-shard'];
    const err = await conversionError(async () => openCheckpoint(await input(fault.path)));
    expectWellFormed(err, fault.file, fault.tensor);
    expect(err.message).toMatch(fault.problem);
    expect(err.message).toContain('model-00002-of-00002.safetensors');
  });

  it('packed-code-3 opens (the fault is in the data) and holds a code 3 where promised', async () => {
    const fault = bad['packed-code-3'];
    const { ckpt } = await open(fault.path);
    const bytes = await bytesOf(ckpt, fault.tensor!);
    const withCode3 = [...bytes].flatMap((b, i) =>
      [0, 2, 4, 6].some((s) => ((b >> s) & 3) === 3) ? [i] : [],
    );
    expect(withCode3).toEqual([CODE_3_BYTE_INDEX]);
  });

  it('missing-tensor opens but lacks the promised tensor', async () => {
    const fault = bad['missing-tensor'];
    const { ckpt } = await open(fault.path);
    expect(ckpt.get(fault.tensor!)).toBeUndefined();
    expect(ckpt.tensors.size).toBe(1 + 2 * 18);
  });
});
