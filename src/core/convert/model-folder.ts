/**
 * A model folder other tools load as it is (issue 4; docs/spec.md §4):
 *
 *   config.json              what transformers.js reads: a `llama` decoder with BitNet's real dimensions
 *   generation_config.json   bos / eos (the input's, when it has one)
 *   genai_config.json        onnxruntime-genai: the decoder's file, inputs, outputs and cache shape
 *   tokenizer.json, …        copied byte for byte from the input folder
 *   onnx/model.onnx          fp32     ─┐ one per requested format, named by transformers.js's dtype
 *   onnx/model_int8.onnx     int8      │ suffixes; external data beside each as
 *   onnx/model_q2.onnx       int2     ─┘ `model_q2.onnx_data`, `model_q2.onnx_data_1`, …
 *
 * Everything is written into one OutputTarget and committed only after every model passed its checks.
 *
 * Why `llama`: transformers.js has no `bitnet` model type. Its decoder loop only needs the I/O names
 * (docs/spec.md §4) and the config fields that size the KV cache; the arithmetic lives in the graph. The
 * original config is kept under `bitnet2onnx` so nothing is lost.
 */
import type { ParsedConfig } from '../bitnet/config.ts';
import { IO_NAMES } from '../bitnet/decoder-graph.ts';
import {
  describeFormat,
  formatMetadata,
  formatModule,
  type FormatOptions,
  type WeightFormat,
} from '../formats/registry.ts';
import type { ModelPlan } from '../bitnet/model-plan.ts';
import { ConversionError, throwIfAborted } from '../errors.ts';
import { readText, type InputFiles, type OutputTarget } from '../io/bytes.ts';
import { dataFileName } from '../onnx/layout.ts';
import {
  convertModel,
  inspectModel,
  PRODUCER,
  type ConvertRequest,
  type InspectedModel,
  type VerifyStep,
} from './convert.ts';
import { copiedFileNames, copyThrough } from './copy-through.ts';
import { folderModelFile } from './output-layout.ts';

/** transformers.js `dtype` of a format; its loader maps dtype → file suffix. */
export function transformersJsDtype(weights: WeightFormat): string {
  return formatModule(weights).transformersJsDtype;
}

const GENERATION_CONFIG = 'generation_config.json';

/** One converted model in the folder. */
export interface FolderModel {
  format: FormatOptions;
  /** Name inside the folder, e.g. `onnx/model_q2.onnx`. */
  modelFile: string;
  /** Its external data files inside the folder, in chunk order (empty when the weights are inline). */
  dataFiles: string[];
}

export interface FolderJsonInput {
  plan: ModelPlan;
  config?: ParsedConfig;
  /** The input's generation_config.json, parsed, when it has one. */
  generationConfig?: Record<string, unknown>;
  /** The models in the folder; the first is the one loaders pick by default. */
  models: FolderModel[];
}

export interface FolderJsonFile {
  name: string;
  json: Record<string, unknown>;
}

/** config.json, generation_config.json and genai_config.json for a folder of converted models. */
export function modelFolderJson(input: FolderJsonInput): FolderJsonFile[] {
  if (input.models.length === 0) throw new Error('model folder: no models');
  return [
    { name: 'config.json', json: transformersConfig(input) },
    { name: GENERATION_CONFIG, json: generationConfig(input) },
    { name: 'genai_config.json', json: genaiConfig(input) },
  ];
}

type TokenId = number | number[];

interface TokenIds {
  bos?: TokenId;
  eos?: TokenId;
  pad?: TokenId;
}

/** A token id as configs write it (an integer, or a list for eos); anything else counts as absent. */
function tokenId(value: unknown): TokenId | undefined {
  const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
  if (isId(value)) return value;
  if (Array.isArray(value) && value.length > 0 && value.every(isId)) return [...value];
  return undefined;
}

function idsOf(json: Record<string, unknown> | undefined): TokenIds {
  return {
    bos: tokenId(json?.bos_token_id),
    eos: tokenId(json?.eos_token_id),
    pad: tokenId(json?.pad_token_id),
  };
}

/** `first` where it says something, else `second`. */
function mergeIds(first: TokenIds, second: TokenIds): TokenIds {
  return { bos: first.bos ?? second.bos, eos: first.eos ?? second.eos, pad: first.pad ?? second.pad };
}

function idFields(ids: TokenIds): Record<string, TokenId> {
  const out: Record<string, TokenId> = {};
  if (ids.bos !== undefined) out.bos_token_id = ids.bos;
  if (ids.eos !== undefined) out.eos_token_id = ids.eos;
  if (ids.pad !== undefined) out.pad_token_id = ids.pad;
  return out;
}

const baseName = (file: string) => file.slice(file.lastIndexOf('/') + 1);

function transformersConfig({
  plan,
  config,
  generationConfig,
  models,
}: FolderJsonInput): Record<string, unknown> {
  const d = plan.dims;
  const ids = mergeIds(idsOf(config?.raw), idsOf(generationConfig));
  const external = models.filter((m) => m.dataFiles.length > 0);
  const jsConfig: Record<string, unknown> = { dtype: transformersJsDtype(models[0].format.weights) };
  // Keyed by the full file name: the loader looks up `model_q2.onnx` before the bare `model`.
  if (external.length > 0) {
    jsConfig.use_external_data_format = Object.fromEntries(
      external.map((m) => [baseName(m.modelFile), m.dataFiles.length]),
    );
  }
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: d.hiddenSize,
    intermediate_size: d.intermediateSize,
    num_hidden_layers: d.numLayers,
    num_attention_heads: d.numHeads,
    num_key_value_heads: d.numKvHeads,
    head_dim: d.headDim,
    vocab_size: d.vocabSize,
    max_position_embeddings: d.maxPositions,
    rope_theta: d.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: d.rmsNormEps,
    hidden_act: 'relu2',
    attention_bias: false,
    tie_word_embeddings: d.tiedEmbeddings,
    ...idFields(ids),
    torch_dtype: 'float32',
    use_cache: true,
    'transformers.js_config': jsConfig,
    bitnet2onnx: {
      converter: `${PRODUCER.name} ${PRODUCER.version}`,
      note:
        'The ONNX graphs compute BitNet b1.58 (per-token int8 activations, ternary weights, sub-norms, relu²); ' +
        'model_type "llama" only tells loaders how to drive the decoder and size its KV cache.',
      original_model_type: config?.raw.model_type ?? 'bitnet',
      variant: plan.variant,
      formats: Object.fromEntries(models.map((m) => [transformersJsDtype(m.format.weights), describe(m)])),
      ...(config ? { original_config: config.raw } : {}),
    },
  };
}

function describe(m: FolderModel): Record<string, unknown> {
  const f = m.format;
  return {
    file: m.modelFile,
    data_files: m.dataFiles.map(baseName),
    ...formatMetadata(f),
  };
}

/** The input's generation config with bos/eos filled in from config.json where it has none. */
function generationConfig({ config, generationConfig: input }: FolderJsonInput): Record<string, unknown> {
  const ids = mergeIds(idsOf(input), idsOf(config?.raw));
  return { ...(input ?? {}), ...idFields(ids) };
}

/**
 * onnxruntime-genai's schema (src/config.cpp in microsoft/onnxruntime-genai): unknown keys are errors,
 * integers must be whole numbers, `filename` is relative to the folder. `type` "llama" selects its
 * generic decoder-only model, which drives the graph through the names below.
 */
function genaiConfig({
  plan,
  config,
  generationConfig: gen,
  models,
}: FolderJsonInput): Record<string, unknown> {
  const d = plan.dims;
  const ids = mergeIds(idsOf(gen), idsOf(config?.raw));
  const firstEos = Array.isArray(ids.eos) ? ids.eos[0] : ids.eos;
  const pad = Array.isArray(ids.pad) ? ids.pad[0] : (ids.pad ?? firstEos);
  const num = (key: string, fallback: number) =>
    typeof gen?.[key] === 'number' ? (gen[key] as number) : fallback;
  const topK = num('top_k', 50);
  return {
    model: {
      ...(typeof ids.bos === 'number' ? { bos_token_id: ids.bos } : {}),
      ...(ids.eos !== undefined ? { eos_token_id: ids.eos } : {}),
      ...(pad !== undefined ? { pad_token_id: pad } : {}),
      context_length: d.maxPositions,
      decoder: {
        session_options: { log_id: 'onnxruntime-genai', provider_options: [] },
        filename: models[0].modelFile,
        head_size: d.headDim,
        hidden_size: d.hiddenSize,
        inputs: {
          input_ids: IO_NAMES.inputIds,
          attention_mask: IO_NAMES.attentionMask,
          position_ids: IO_NAMES.positionIds,
          past_key_names: percentD(IO_NAMES.pastKey),
          past_value_names: percentD(IO_NAMES.pastValue),
        },
        outputs: {
          logits: IO_NAMES.logits,
          present_key_names: percentD(IO_NAMES.presentKey),
          present_value_names: percentD(IO_NAMES.presentValue),
        },
        num_attention_heads: d.numHeads,
        num_hidden_layers: d.numLayers,
        num_key_value_heads: d.numKvHeads,
      },
      type: 'llama',
      vocab_size: d.vocabSize,
    },
    search: {
      do_sample: gen?.do_sample === true,
      early_stopping: true,
      max_length: d.maxPositions,
      min_length: 0,
      num_beams: 1,
      num_return_sequences: 1,
      // The graph concatenates past and new keys (it does not write into a preallocated buffer).
      past_present_share_buffer: false,
      repetition_penalty: num('repetition_penalty', 1),
      temperature: num('temperature', 1),
      top_k: Number.isInteger(topK) ? topK : 50,
      top_p: num('top_p', 1),
    },
  };
}

/** `past_key_values.%d.key` from the function that names layer i's input: genai fills in the layer. */
function percentD(name: (i: number) => string): string {
  const marker = 987654321;
  const text = name(marker);
  if (!text.includes(String(marker))) throw new Error(`IO name ${text} does not contain its layer index`);
  return text.replace(String(marker), '%d');
}

export interface ConvertFolderRequest extends Pick<
  ConvertRequest,
  'input' | 'target' | 'kernels' | 'configText' | 'external' | 'signal' | 'onProgress' | 'inspected'
> {
  /** One model per format, in this order; the first is the folder's default for both loaders. */
  formats: FormatOptions[];
  /** The checks to run on each written model before anything is committed. */
  verify?: (format: FormatOptions) => VerifyStep | undefined;
}

export interface ConvertFolderResult {
  files: { name: string; bytes: number }[];
  models: FolderModel[];
  /** Tokenizer files copied from the input. */
  copied: string[];
  seconds: number;
  inspected: InspectedModel;
}

/**
 * The folder as one transaction: every model is converted and checked, then the JSON files are written
 * and the tokenizer copied, and only then is the target committed. Any failure discards all of it.
 */
export async function convertModelFolder(req: ConvertFolderRequest): Promise<ConvertFolderResult> {
  const started = Date.now();
  const emit = req.onProgress ?? (() => {});
  try {
    checkFormats(req.formats);
    const generation = await readGenerationConfig(req.input);
    // The headers are read once for the whole folder, and every format is converted from that reading.
    const inspected = req.inspected ?? (await inspectModel(req.input, req.configText));
    const files: { name: string; bytes: number }[] = [];
    const models: FolderModel[] = [];
    for (const format of req.formats) {
      const modelFile = folderModelFile(format.weights);
      emit({ status: 'log', level: 'info', message: `${modelFile}: ${describeFormat(format)}` });
      const result = await convertModel({
        input: req.input,
        target: req.target,
        kernels: req.kernels,
        configText: req.configText,
        external: req.external,
        signal: req.signal,
        onProgress: req.onProgress,
        format,
        modelFile,
        verify: req.verify?.(format),
        commit: false,
        inspected,
      });
      files.push(...result.files);
      models.push({ format, modelFile, dataFiles: dataFilesOf(modelFile, result.files) });
    }
    const { plan, config } = inspected;
    for (const { name, json } of modelFolderJson({ plan, config, generationConfig: generation, models })) {
      files.push(await writeJson(req.target, name, json));
    }
    const copied = await copyThrough(
      req.input,
      req.target,
      copiedFileNames(req.input.list(), 'folder'),
      req.signal,
    );
    files.push(...copied);
    if (!copied.some((f) => f.name === 'tokenizer.json')) {
      emit({
        status: 'log',
        level: 'warn',
        message: 'no tokenizer.json beside the input: the folder loads, but text cannot be tokenised with it',
      });
    }
    throwIfAborted(req.signal);
    await req.target.commit();
    return {
      files,
      models,
      copied: copied.map((f) => f.name),
      seconds: (Date.now() - started) / 1000,
      inspected,
    };
  } catch (error) {
    // Report the first failure, not a discard that failed after it (the same full disk).
    await req.target.discard().catch(() => {});
    throw error;
  }
}

function checkFormats(formats: FormatOptions[]): void {
  if (formats.length === 0) throw new Error('model folder: no formats requested');
  const seen = new Set<WeightFormat>();
  for (const f of formats) {
    if (seen.has(f.weights)) throw new Error(`model folder: format ${f.weights} requested twice`);
    seen.add(f.weights);
  }
}

/** The data files the writer produced for a model, checked against the names transformers.js derives. */
export function dataFilesOf(modelFile: string, written: { name: string }[]): string[] {
  const data = written.map((f) => f.name).filter((n) => n !== modelFile);
  data.forEach((name, i) => {
    if (name !== dataFileName(modelFile, i)) {
      throw new Error(`model folder: data file ${name} is not named ${dataFileName(modelFile, i)}`);
    }
  });
  return data;
}

/** The input's generation_config.json, parsed; a damaged one is an input error naming the file. */
export async function readGenerationConfig(input: InputFiles): Promise<Record<string, unknown> | undefined> {
  const source = await input.open(GENERATION_CONFIG);
  if (!source) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(await readText(source));
  } catch (e) {
    throw new ConversionError(`invalid JSON (${(e as Error).message})`, { file: source.name });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConversionError('not a JSON object', { file: source.name, expected: 'an object' });
  }
  return value as Record<string, unknown>;
}

/** A folder JSON file's bytes, exactly as written (so a plan can tell its size without writing it). */
export function folderJsonBytes(json: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
}

async function writeJson(
  target: OutputTarget,
  name: string,
  json: Record<string, unknown>,
): Promise<{ name: string; bytes: number }> {
  const bytes = folderJsonBytes(json);
  const sink = await target.create(name);
  await sink.write(bytes);
  await sink.close();
  return { name, bytes: bytes.length };
}
