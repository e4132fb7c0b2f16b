/**
 * What onnxruntime-genai's genai_config.json parser accepts, transcribed from its source
 * (microsoft/onnxruntime-genai, src/config.cpp: Root_Element, Model_Element, Decoder_Element,
 * DecoderInputs_Element, DecoderOutputs_Element, SessionOptions_Element, Search_Element). The parser
 * throws `unknown_value_error` for a key its element does not handle, reads integers through
 * SafeDoubleToInt (whole numbers only) and `eos_token_id` as an integer or an array of integers.
 * onnxruntime-genai itself has no Node package and its Python wheel needs a download, so the tests check
 * the written file against this transcription instead of loading it.
 *
 * Only the parts a decoder-only model uses are transcribed; keys of other elements (vision, speech,
 * engine, …) count as unknown here, which only makes the check stricter.
 */

type Kind = 'string' | 'int' | 'number' | 'bool' | 'int-or-ints' | 'provider-options' | Schema;

/** `open`: other keys are accepted as strings (session options become ORT config entries). */
interface Schema {
  keys: Record<string, Kind>;
  open?: 'strings';
}

const SESSION_OPTIONS: Schema = {
  keys: {
    log_id: 'string',
    enable_profiling: 'string',
    intra_op_num_threads: 'int',
    inter_op_num_threads: 'int',
    log_severity_level: 'int',
    log_verbosity_level: 'int',
    enable_cpu_mem_arena: 'bool',
    enable_mem_pattern: 'bool',
    graph_optimization_level: 'string',
    custom_ops_library: 'string',
    provider_options: 'provider-options',
  },
  open: 'strings',
};

const strings = (...names: string[]): Schema => ({
  keys: Object.fromEntries(names.map((n) => [n, 'string' as const])),
});

const DECODER_INPUTS = strings(
  'input_ids',
  'inputs_embeds',
  'attention_mask',
  'position_ids',
  'past_key_names',
  'past_value_names',
  'past_names',
  'cross_past_key_names',
  'cross_past_value_names',
  'past_sequence_length',
  'current_sequence_length',
  'total_sequence_length',
  'encoder_hidden_states',
  'encoder_attention_mask',
  'rnn_states_prev',
  'past_key_values_length',
  'cache_indirection',
);

const DECODER_OUTPUTS = strings(
  'logits',
  'present_key_names',
  'present_value_names',
  'present_names',
  'output_cross_qk_names',
  'rnn_states',
  'hidden_states',
);

const DECODER: Schema = {
  keys: {
    filename: 'string',
    hidden_size: 'int',
    num_attention_heads: 'int',
    num_hidden_layers: 'int',
    num_key_value_heads: 'int',
    head_size: 'int',
    session_options: SESSION_OPTIONS,
    inputs: DECODER_INPUTS,
    outputs: DECODER_OUTPUTS,
  },
};

const MODEL: Schema = {
  keys: {
    type: 'string',
    tokenizer_dir: 'string',
    vocab_size: 'int',
    context_length: 'int',
    pad_token_id: 'int',
    eos_token_id: 'int-or-ints',
    bos_token_id: 'int',
    decoder_start_token_id: 'int',
    sep_token_id: 'int',
    decoder: DECODER,
  },
};

const SEARCH: Schema = {
  keys: {
    min_length: 'int',
    max_length: 'int',
    batch_size: 'int',
    num_beams: 'int',
    num_return_sequences: 'int',
    top_k: 'int',
    top_p: 'number',
    temperature: 'number',
    repetition_penalty: 'number',
    length_penalty: 'number',
    no_repeat_ngram_size: 'int',
    diversity_penalty: 'number',
    random_seed: 'int',
    chunk_size: 'number',
    do_sample: 'bool',
    past_present_share_buffer: 'bool',
    early_stopping: 'bool',
  },
};

export const GENAI_CONFIG_SCHEMA: Schema = { keys: { model: MODEL, search: SEARCH } };

/** Model types routed to onnxruntime-genai's generic decoder-only model (src/models/model_type.h, IsLLM). */
export const GENAI_DECODER_ONLY_TYPES = [
  'decoder',
  'llama',
  'mistral',
  'phi',
  'phi3',
  'qwen2',
  'qwen3',
  'gemma',
];

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31;

/** Every place `json` breaks the schema, as `path: problem`; empty when the parser would accept it. */
export function genaiConfigProblems(json: unknown, schema: Schema = GENAI_CONFIG_SCHEMA, at = ''): string[] {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return [`${at || '(root)'}: not an object`];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    const where = at ? `${at}.${key}` : key;
    const kind = schema.keys[key];
    if (kind === undefined) {
      if (schema.open === 'strings' && typeof value === 'string') continue;
      problems.push(`${where}: unknown key`);
      continue;
    }
    if (typeof kind === 'object') {
      problems.push(...genaiConfigProblems(value, kind, where));
      continue;
    }
    const ok =
      kind === 'string'
        ? typeof value === 'string'
        : kind === 'int'
          ? isInt(value)
          : kind === 'number'
            ? typeof value === 'number' && Number.isFinite(value)
            : kind === 'bool'
              ? typeof value === 'boolean'
              : kind === 'int-or-ints'
                ? isInt(value) || (Array.isArray(value) && value.every(isInt))
                : // provider_options: an array of { "<provider>": { "<option>": "<string>", … } }
                  Array.isArray(value) &&
                  value.every(
                    (p) =>
                      p &&
                      typeof p === 'object' &&
                      Object.values(p).every(
                        (o) =>
                          o && typeof o === 'object' && Object.values(o).every((s) => typeof s === 'string'),
                      ),
                  );
    if (!ok) problems.push(`${where}: expected ${kind}, found ${JSON.stringify(value)}`);
  }
  return problems;
}
