/**
 * The folder's JSON at the released model's shape, without writing gigabytes: the external-data chunk
 * counts a 2B-4T conversion produces, checked against the file names transformers.js's registry derives
 * from config.json, and genai_config.json against onnxruntime-genai's schema.
 */
import { describe, expect, it } from 'vitest';
import { ModelRegistry, PretrainedConfig } from '@huggingface/transformers';
import { parseConfigJson } from '../../src/core/bitnet/config.ts';
import { defaultFormat } from '../../src/core/formats/registry.ts';
import type { ModelPlan } from '../../src/core/bitnet/model-plan.ts';
import { BITNET_2B_4T_DIMS, syntheticConfig } from '../../src/core/bitnet/synthetic.ts';
import { modelFolderJson, type FolderModel } from '../../src/core/convert/model-folder.ts';
import { folderModelFile } from '../../src/core/convert/output-layout.ts';
import { dataFileName } from '../../src/core/onnx/layout.ts';
import { genaiConfigProblems } from '../helpers/genai-config-schema.ts';

const plan = { dims: BITNET_2B_4T_DIMS, variant: 'packed-autobitlinear' } as ModelPlan;
const config = parseConfigJson(
  JSON.stringify(syntheticConfig({ dims: BITNET_2B_4T_DIMS, variant: 'packed-autobitlinear', seed: 0 })),
);

/** A model of the folder with `chunks` external data files named as the writer names them. */
function model(weights: 'fp32' | 'int8' | 'int2', chunks: number): FolderModel {
  const modelFile = folderModelFile(weights);
  return {
    format: defaultFormat(weights),
    modelFile,
    dataFiles: Array.from({ length: chunks }, (_, i) => dataFileName(modelFile, i)),
  };
}

const jsonOf = (files: ReturnType<typeof modelFolderJson>, name: string) =>
  files.find((f) => f.name === name)!.json as Record<string, unknown> & { model: Record<string, unknown> };

describe('model folder JSON at the 2B-4T shape', () => {
  // FP32 ≈ 9.65 GB → 5 files of ≤ 2 GiB; int8 ≈ 2.7 GB → 2; int2 fits in one.
  const models = [model('int2', 1), model('int8', 2), model('fp32', 5)];
  const files = modelFolderJson({
    plan,
    config,
    generationConfig: { bos_token_id: 128000, eos_token_id: [128001, 128009], do_sample: false },
    models,
  });

  it("names every external chunk the way transformers.js's registry derives it from config.json", async () => {
    const cfg = jsonOf(files, 'config.json');
    expect(cfg['transformers.js_config']).toEqual({
      dtype: 'q2',
      use_external_data_format: { 'model_q2.onnx': 1, 'model_int8.onnx': 2, 'model.onnx': 5 },
    });
    for (const [dtype, m] of [
      ['q2', models[0]],
      ['int8', models[1]],
      ['fp32', models[2]],
    ] as const) {
      const derived = await ModelRegistry.get_model_files('bitnet-2b-4t', {
        config: new PretrainedConfig(cfg),
        dtype,
      });
      expect(derived.filter((f) => f.startsWith('onnx/'))).toEqual([m.modelFile, ...m.dataFiles]);
    }
    // Without a dtype the registry (and the loader) picks the folder's default: the first format.
    expect(
      await ModelRegistry.get_model_files('bitnet-2b-4t', { config: new PretrainedConfig(cfg) }),
    ).toContain('onnx/model_q2.onnx');
  });

  it('config.json carries the real dimensions and the original ids', () => {
    expect(jsonOf(files, 'config.json')).toMatchObject({
      model_type: 'llama',
      num_key_value_heads: 5,
      head_dim: 128,
      max_position_embeddings: 4096,
      rope_theta: 500000,
      tie_word_embeddings: true,
      bos_token_id: 128000,
      eos_token_id: 128001,
    });
  });

  it('generation_config.json keeps the list of end tokens', () => {
    expect(jsonOf(files, 'generation_config.json')).toEqual({
      bos_token_id: 128000,
      eos_token_id: [128001, 128009],
      do_sample: false,
    });
  });

  it('genai_config.json passes the schema, with the eos list and the first eos as padding', () => {
    const genai = jsonOf(files, 'genai_config.json');
    expect(genaiConfigProblems(genai)).toEqual([]);
    expect(genai.model).toMatchObject({
      bos_token_id: 128000,
      eos_token_id: [128001, 128009],
      pad_token_id: 128001,
      context_length: 4096,
      decoder: { filename: 'onnx/model_q2.onnx', head_size: 128, num_key_value_heads: 5 },
    });
  });

  it('without config.json or generation_config.json: dimensions from the tensors, no invented ids', () => {
    const bare = modelFolderJson({ plan, models: [model('int8', 0)] });
    const cfg = jsonOf(bare, 'config.json');
    expect(cfg).not.toHaveProperty('bos_token_id');
    expect(cfg['transformers.js_config']).toEqual({ dtype: 'int8' });
    expect(jsonOf(bare, 'generation_config.json')).toEqual({});
    const genai = jsonOf(bare, 'genai_config.json');
    expect(genaiConfigProblems(genai)).toEqual([]);
    expect(genai.model).not.toHaveProperty('eos_token_id');
  });
});
