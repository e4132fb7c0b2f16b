/**
 * `--output-dir`: a model folder that transformers.js loads as it is (local files only) and whose
 * genai_config.json follows onnxruntime-genai's schema. The proof is behavioural: for every dtype in the
 * folder, transformers.js's own `generate` must produce the reference forward pass's greedy tokens.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  ModelRegistry,
  Tensor,
  env,
  type PreTrainedModel,
} from '@huggingface/transformers';
import { FIXTURES } from '../../scripts/make-fixtures.ts';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import { greedyGenerate, ReferenceDecoder } from '../../src/core/check/reference-forward.ts';
import type { ReferenceWeights } from '../../src/core/check/reference-input.ts';
import { loadReferenceWeights } from '../../src/core/check/reference-weights.ts';
import { checkPrompt } from '../../src/core/check/runtime-check.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { openNodeInput } from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';
import { runCli, runCliAndSignal } from '../helpers/cli.ts';
import { GENAI_DECODER_ONLY_TYPES, genaiConfigProblems } from '../helpers/genai-config-schema.ts';
import { writeSafetensorsFile } from '../helpers/synthetic-files.ts';

/** A random tiny model with an untied head (both embedding-sized tensors travel through the formats). */
const FIXTURE = FIXTURES['packed-untied'];
const BOS = 1;
const EOS = 2;
const SPECIAL = ['<unk>', '<s>', '</s>'];
const NEW_TOKENS = 8;
const DTYPES = ['fp32', 'int8', 'q2'] as const;

/**
 * How clear the reference's greedy path must be of ambiguous choices. The fixture is a random model,
 * so some prompts pass close to a tie, where two correct implementations may pick different tokens:
 * - logit gap: top-1 minus top-2 at every generated step. Correct implementations differ here by ~5e-6
 *   (the CLI's runtime check prints it), so 0.05 is four orders of magnitude of room.
 * - rounding margin: the distance of every quantised x·s to a rounding boundary k + ½, over the prompt
 *   and all generated tokens. |x·s| ≤ 127, where a float32 ulp is 7.6e-6: 1.5e-4 is 20 such ulps, while
 *   correct float32 graphs differ from the reference upstream by a few.
 * With the fixture as generated today, candidate 1 is the first to pass: prompt [1, 21, 260, 179, 98,
 * 17, 256, 175], smallest gap 0.22 (logits up to ±16), smallest rounding margin 1.7e-4. Candidate 0
 * (margin 1.1e-4) would do in practice; 2 and 3 come within 8e-6 and 6e-5 of a rounding tie.
 */
const MIN_LOGIT_GAP = 0.05;
const MIN_ROUNDING_MARGIN = 1.5e-4;
const PROMPT_CANDIDATES = 64;

interface GreedyPath {
  prompt: number[];
  tokens: number[];
  minLogitGap: number;
  minRoundingMargin: number;
}

/** Reference greedy decoding that also reports how close each step came to an ambiguous choice. */
function greedyPath(
  dims: BitNetDims,
  weights: ReferenceWeights,
  prompt: number[],
  steps: number,
): GreedyPath {
  const decoder = new ReferenceDecoder(dims, weights);
  const h = dims.hiddenSize;
  let normed = decoder.append(prompt);
  let last = prompt.length - 1;
  const tokens: number[] = [];
  let minLogitGap = Infinity;
  for (let step = 0; step < steps; step++) {
    const logits = decoder.logits(normed.subarray(last * h, (last + 1) * h), 1);
    let first = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[first]) first = v;
    let second = first === 0 ? 1 : 0;
    for (let v = 0; v < logits.length; v++) if (v !== first && logits[v] > logits[second]) second = v;
    minLogitGap = Math.min(minLogitGap, logits[first] - logits[second]);
    tokens.push(first);
    normed = decoder.append([first]);
    last = 0;
  }
  return { prompt, tokens, minLogitGap, minRoundingMargin: decoder.minTieMargin };
}

/**
 * The first candidate prompt whose greedy path is clear of ties by the margins above, and that a
 * text round trip and transformers.js's stopping rule leave alone: no special token after BOS (the
 * reference never stops; transformers.js stops at EOS).
 */
function pickPrompt(dims: BitNetDims, weights: ReferenceWeights): GreedyPath {
  for (let seed = 0; seed < PROMPT_CANDIDATES; seed++) {
    const path = greedyPath(dims, weights, checkPrompt(dims.vocabSize, BOS, 8, seed), NEW_TOKENS);
    const plain = [...path.prompt.slice(1), ...path.tokens].every((id) => id >= SPECIAL.length);
    if (plain && path.minLogitGap >= MIN_LOGIT_GAP && path.minRoundingMargin >= MIN_ROUNDING_MARGIN) {
      return path;
    }
  }
  throw new Error(`no prompt among ${PROMPT_CANDIDATES} candidates has a greedy path clear of ties`);
}

const word = (id: number) => (id < SPECIAL.length ? SPECIAL[id] : `w${id}`);

/** A real WordPiece tokenizer over the fixture's vocabulary: token id i is the word `w<i>`. */
function writeTokenizerFiles(dir: string, vocab: number): void {
  const specials = SPECIAL.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials,
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [BOS], tokens: ['<s>'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: '<unk>',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(Array.from({ length: vocab }, (_, id) => [word(id), id])),
    },
  };
  const names = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer, null, 2));
  writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({ ...names, model_max_length: 256, clean_up_tokenization_spaces: false }, null, 2),
  );
  writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify(names, null, 2));
}

/** Every file under dir, relative, with `/` separators (hidden staging folders included). */
function listTree(dir: string, prefix = ''): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .flatMap((e) =>
      e.isDirectory() ? listTree(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    )
    .sort();
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

/** transformers.js's own greedy decoding; returns the new token ids. */
async function generate(model: PreTrainedModel, ids: number[]): Promise<number[]> {
  const inputIds = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
  const out = (await model.generate({
    input_ids: inputIds,
    max_new_tokens: NEW_TOKENS,
    do_sample: false,
  })) as Tensor;
  return (out.tolist() as bigint[][])[0].slice(ids.length).map(Number);
}

let root: string;
let input: string;
/** transformers.js resolves model ids under env.localModelPath: the folders live in `root`. */
const FOLDER_ID = 'bitnet-folder';
let folder: string;
let dims: BitNetDims;
let greedy: GreedyPath;
let cliStderr: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-folder-'));
  input = path.join(root, 'input');
  await writeSafetensorsFile(input, FIXTURE);
  writeTokenizerFiles(input, FIXTURE.dims.vocabSize);
  // As released checkpoints ship it: sampling on by default; generate() below turns it off.
  writeFileSync(
    path.join(input, 'generation_config.json'),
    JSON.stringify({ bos_token_id: BOS, eos_token_id: EOS, do_sample: true, temperature: 0.6, top_p: 0.9 }),
  );

  const files = await openNodeInput(input);
  try {
    const { plan } = await inspectModel(files);
    dims = plan.dims;
    const weights = await loadReferenceWeights(plan, await loadNodeKernels());
    greedy = pickPrompt(dims, weights);
    // The path is plain greedy decoding: the same tokens as the reference's own greedyGenerate.
    expect(greedyGenerate(dims, weights, greedy.prompt, NEW_TOKENS)).toEqual(greedy.tokens);
  } finally {
    await files.close();
  }

  folder = path.join(root, FOLDER_ID);
  const run = runCli([
    '-i',
    input,
    '--output-dir',
    folder,
    '--format',
    'fp32,int8,int2',
    '--external-data',
    'always',
  ]);
  cliStderr = run.stderr;
  if (run.status !== 0) throw new Error(`conversion failed (${run.status}):\n${run.stderr}`);

  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
  env.useFSCache = false;
}, 300_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('--output-dir writes a model folder', () => {
  it('with one checked model per format, the configs and the tokenizer, and nothing else', () => {
    expect(listTree(folder)).toEqual(
      [
        'config.json',
        'generation_config.json',
        'genai_config.json',
        'onnx/model.onnx',
        'onnx/model.onnx_data',
        'onnx/model_int8.onnx',
        'onnx/model_int8.onnx_data',
        'onnx/model_q2.onnx',
        'onnx/model_q2.onnx_data',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].sort(),
    );
    // Every model ran in onnxruntime against the reference before the folder was committed.
    expect(cliStderr.match(/check runtime: ok/g)).toHaveLength(3);
    expect(cliStderr).toMatch(/onnx\/model_q2\.onnx: int2 \(block 128\) weights, fp32 embedding, exact head/);
  });

  it('copies the tokenizer files byte for byte', () => {
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(readFileSync(path.join(folder, name)).equals(readFileSync(path.join(input, name)))).toBe(true);
    }
  });

  it('config.json: a llama decoder with the real dimensions, its files, and the original config', () => {
    const config = readJson(path.join(folder, 'config.json'));
    expect(config).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: dims.hiddenSize,
      intermediate_size: dims.intermediateSize,
      num_hidden_layers: dims.numLayers,
      num_attention_heads: dims.numHeads,
      num_key_value_heads: dims.numKvHeads,
      head_dim: dims.headDim,
      vocab_size: dims.vocabSize,
      max_position_embeddings: dims.maxPositions,
      rope_theta: dims.ropeTheta,
      rms_norm_eps: dims.rmsNormEps,
      tie_word_embeddings: false,
      bos_token_id: BOS,
      eos_token_id: EOS,
      torch_dtype: 'float32',
      'transformers.js_config': {
        dtype: 'fp32',
        use_external_data_format: { 'model.onnx': 1, 'model_int8.onnx': 1, 'model_q2.onnx': 1 },
      },
      bitnet2onnx: {
        original_model_type: 'bitnet',
        variant: 'packed-autobitlinear',
        formats: {
          fp32: { file: 'onnx/model.onnx', weights: 'fp32', embed: 'fp32' },
          int8: { file: 'onnx/model_int8.onnx', weights: 'int8', embed: 'fp32', head: 'exact' },
          q2: {
            file: 'onnx/model_q2.onnx',
            weights: 'int2',
            embed: 'fp32',
            head: 'exact',
            block_size: 128,
            accuracy_level: 4,
            pinned_blocks: 1,
          },
        },
        original_config: readJson(path.join(input, 'config.json')),
      },
    });
    expect(config).not.toHaveProperty('quantization_config');
  });

  it('generation_config.json: the input one, bos/eos included', () => {
    expect(readJson(path.join(folder, 'generation_config.json'))).toEqual(
      readJson(path.join(input, 'generation_config.json')),
    );
  });

  it("holds exactly the files transformers.js's registry derives for each dtype, plus genai_config.json", async () => {
    const opts = { local_files_only: true };
    expect((await ModelRegistry.get_available_dtypes(FOLDER_ID, opts)).sort()).toEqual([...DTYPES].sort());
    const wanted = new Set(['genai_config.json', ...(await ModelRegistry.get_tokenizer_files(FOLDER_ID))]);
    for (const dtype of DTYPES) {
      for (const f of await ModelRegistry.get_model_files(FOLDER_ID, { dtype })) wanted.add(f);
    }
    // special_tokens_map.json travels along for other tokenizer loaders; transformers.js does not read it.
    expect([...wanted, 'special_tokens_map.json'].sort()).toEqual(listTree(folder));
  });
});

describe('genai_config.json for onnxruntime-genai', () => {
  // onnxruntime-genai publishes no Node package and its wheel is not installable here (no internet
  // beyond the npm registry), so the file is checked against the parser's schema and the graph.
  it('uses only keys and types its parser accepts (src/config.cpp) and a decoder-only model type', () => {
    const genai = readJson(path.join(folder, 'genai_config.json'));
    expect(genaiConfigProblems(genai)).toEqual([]);
    const model = genai.model as Record<string, unknown>;
    expect(GENAI_DECODER_ONLY_TYPES).toContain(model.type);
    expect(model).toMatchObject({
      bos_token_id: BOS,
      eos_token_id: EOS,
      pad_token_id: EOS,
      context_length: dims.maxPositions,
      vocab_size: dims.vocabSize,
      decoder: {
        filename: 'onnx/model.onnx',
        head_size: dims.headDim,
        hidden_size: dims.hiddenSize,
        num_attention_heads: dims.numHeads,
        num_key_value_heads: dims.numKvHeads,
        num_hidden_layers: dims.numLayers,
      },
    });
    // Sampling settings follow the input's generation_config.json; the KV cache is not a shared buffer.
    expect(genai.search).toMatchObject({
      do_sample: true,
      temperature: 0.6,
      top_p: 0.9,
      max_length: dims.maxPositions,
      past_present_share_buffer: false,
    });
  });

  it("names exactly the decoder graph's inputs and outputs", async () => {
    const decoder = (readJson(path.join(folder, 'genai_config.json')).model as Record<string, unknown>)
      .decoder as { filename: string; inputs: Record<string, string>; outputs: Record<string, string> };
    const perLayer = (template: string) =>
      Array.from({ length: dims.numLayers }, (_, i) => template.replace('%d', String(i)));
    const { inputs: i, outputs: o } = decoder;
    const session = await openNodeSession(path.join(folder, decoder.filename));
    try {
      expect([...session.inputNames].sort()).toEqual(
        [
          i.input_ids,
          i.attention_mask,
          i.position_ids,
          ...perLayer(i.past_key_names),
          ...perLayer(i.past_value_names),
        ].sort(),
      );
      expect([...session.outputNames].sort()).toEqual(
        [o.logits, ...perLayer(o.present_key_names), ...perLayer(o.present_value_names)].sort(),
      );
    } finally {
      await session.release();
    }
  });
});

describe('transformers.js loads the folder (local files only)', () => {
  it.each([...DTYPES, 'config default'] as const)(
    'dtype %s: greedy generation equals the reference greedy tokens',
    async (dtype) => {
      expect(greedy.minLogitGap).toBeGreaterThanOrEqual(MIN_LOGIT_GAP);
      const model = await AutoModelForCausalLM.from_pretrained(FOLDER_ID, {
        local_files_only: true,
        ...(dtype === 'config default' ? {} : { dtype }),
      });
      try {
        expect(await generate(model, greedy.prompt)).toEqual(greedy.tokens);
      } finally {
        await model.dispose();
      }
    },
  );

  it('its tokenizer round-trips the prompt and the generated text', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(FOLDER_ID, { local_files_only: true });
    const text = greedy.prompt.slice(1).map(word).join(' ');
    expect(tokenizer.encode(text)).toEqual(greedy.prompt);
    expect(tokenizer.decode(greedy.tokens, { skip_special_tokens: true })).toBe(
      greedy.tokens.map(word).join(' '),
    );
  });
});

describe('--output-dir: other shapes and failures', () => {
  it('one inline int2 model with the q8 head: dtype q2 is the default, loads, and gives the reference tokens', async () => {
    const id = 'bitnet-q2-only';
    const run = runCli([
      '-i',
      input,
      '--output-dir',
      path.join(root, id),
      '--format',
      'int2',
      '--head',
      'q8',
    ]);
    expect(run.stderr).toMatch(/check runtime: ok — prompt/);
    expect(run.status).toBe(0);
    expect(listTree(path.join(root, id))).toContain('onnx/model_q2.onnx');
    const config = readJson(path.join(root, id, 'config.json'));
    expect(config['transformers.js_config']).toEqual({ dtype: 'q2' });
    const genai = readJson(path.join(root, id, 'genai_config.json'));
    expect((genai.model as { decoder: { filename: string } }).decoder.filename).toBe('onnx/model_q2.onnx');
    // Pinned blocks make the 2-bit products exact and the q8 head re-scores its top candidates exactly:
    // greedy decoding in transformers.js gives the reference's tokens.
    const model = await AutoModelForCausalLM.from_pretrained(id, { local_files_only: true });
    try {
      expect(await generate(model, greedy.prompt)).toEqual(greedy.tokens);
    } finally {
      await model.dispose();
    }
  });

  it('a cancel while the second model is converted commits nothing, not even the first model', async () => {
    const dir = path.join(root, 'cancelled');
    const run = await runCliAndSignal(
      ['-i', input, '--output-dir', dir, '--format', 'fp32,int8,int2'],
      /onnx\/model_int8\.onnx: /,
    );
    expect(run.signalled).toBe(true);
    expect(run.stderr).toMatch(/check runtime: ok/);
    expect(run.stderr).toMatch(/cancelled; nothing was written/);
    expect(run.status).toBe(130);
    expect(listTree(dir)).toEqual([]);
  });

  it('an unreadable generation_config.json fails before any work, naming the file', () => {
    const bad = path.join(root, 'bad-generation');
    mkdirSync(bad, { recursive: true });
    for (const name of ['config.json', 'model.safetensors']) {
      writeFileSync(path.join(bad, name), readFileSync(path.join(input, name)));
    }
    writeFileSync(path.join(bad, 'generation_config.json'), '{"bos_token_id": 1,');
    const dir = path.join(root, 'bad-generation-out');
    const run = runCli(['-i', bad, '--output-dir', dir]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').pop()).toMatch(
      /^bitnet2onnx: generation_config\.json: invalid JSON/,
    );
    expect(listTree(dir)).toEqual([]);
  });

  it('usage: format lists need --output-dir; --output and --output-dir exclude each other', () => {
    const list = runCli(['-i', input, '-o', path.join(root, 'x.onnx'), '--format', 'fp32,int8']);
    expect(list.status).toBe(2);
    expect(list.stderr).toMatch(/needs --output-dir/);
    const both = runCli(['-i', input, '-o', path.join(root, 'x.onnx'), '--output-dir', root]);
    expect(both.status).toBe(2);
    const twice = runCli(['-i', input, '--output-dir', root, '--format', 'int8,int8']);
    expect(twice.status).toBe(2);
    const q8 = runCli(['-i', input, '--output-dir', root, '--format', 'fp32,int8', '--head', 'q8']);
    expect(q8.status).toBe(2);
    expect(q8.stderr).toMatch(/--head q8 needs a compact format/);
  });
});
