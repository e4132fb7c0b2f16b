import { describe, expect, it } from 'vitest';
import {
  findGenerationFiles,
  generationSettings,
  parseTokenIds,
} from '../../src/core/generate/model-files.ts';

describe('findGenerationFiles', () => {
  it('finds every model with its external data, the configs and the tokenizer of an --output-dir folder', () => {
    const found = findGenerationFiles([
      'config.json',
      'generation_config.json',
      'genai_config.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model_q2.onnx',
      'onnx/model_q2.onnx_data',
      'onnx/model_q2.onnx_data_1',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(found).toEqual({
      models: [
        { model: 'onnx/model.onnx', data: ['onnx/model.onnx_data'] },
        { model: 'onnx/model_q2.onnx', data: ['onnx/model_q2.onnx_data', 'onnx/model_q2.onnx_data_1'] },
      ],
      config: 'config.json',
      generationConfig: 'generation_config.json',
      tokenizer: 'tokenizer.json',
      tokenizerConfig: 'tokenizer_config.json',
    });
  });

  it('a lone model file beside its config, no tokenizer', () => {
    expect(findGenerationFiles(['model_int8.onnx', 'config.json'])).toEqual({
      models: [{ model: 'model_int8.onnx', data: [] }],
      config: 'config.json',
      generationConfig: undefined,
      tokenizer: undefined,
      tokenizerConfig: undefined,
    });
  });
});

describe('generationSettings', () => {
  it('reads BitNet’s config (head_dim from hidden / heads) and the stop ids of generation_config.json', () => {
    const bitnet = {
      hidden_size: 2560,
      num_attention_heads: 20,
      num_key_value_heads: 5,
      vocab_size: 128256,
      max_position_embeddings: 4096,
      eos_token_id: 128001,
    };
    expect(generationSettings(bitnet, { eos_token_id: [128001, 128009] })).toEqual({
      kv: { numKvHeads: 5, headDim: 128 },
      vocabSize: 128256,
      maxPositions: 4096,
      stopIds: [128001, 128009],
    });
    expect(generationSettings({ ...bitnet, head_dim: 64 }).kv.headDim).toBe(64);
    expect(generationSettings(bitnet).stopIds).toEqual([128001]);
  });

  it('says what is missing when the KV shape cannot be told', () => {
    expect(() => generationSettings({ hidden_size: 100, num_attention_heads: 3 })).toThrow(
      /cannot tell the KV cache shape.*hidden_size=100/,
    );
  });
});

describe('parseTokenIds', () => {
  it('takes ids separated by commas and/or spaces', () => {
    expect(parseTokenIds('5,17,99')).toEqual([5, 17, 99]);
    expect(parseTokenIds(' 5, 17  99 ')).toEqual([5, 17, 99]);
  });

  it('refuses what is not an id, or an id outside the vocabulary', () => {
    expect(() => parseTokenIds('')).toThrow(/e\.g\. 5,17,99/);
    expect(() => parseTokenIds('5,x')).toThrow(/“x” is not a token id/);
    expect(() => parseTokenIds('5,-1')).toThrow(/“-1” is not a token id/);
    expect(() => parseTokenIds('5,320', 320)).toThrow(/token id 320 is outside the vocabulary \(0–319\)/);
  });
});
