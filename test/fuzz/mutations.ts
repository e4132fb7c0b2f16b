/**
 * Mutations of a valid model folder for the parser fuzz tests: byte flips, truncation, lying header
 * lengths, and JSON field changes (wrong types, huge, negative and fractional numbers, overlapping or
 * duplicated offsets, duplicate keys) in the safetensors header, the shard index and config.json.
 * Each mutation is plain data, so fast-check can shrink and print a failing case.
 */
import fc from 'fast-check';

export type Folder = Record<string, Uint8Array>;

export type Mutation =
  | { kind: 'flip'; file: number; at: number; header: boolean; xor: number }
  | { kind: 'truncate'; file: number; keep: number }
  | { kind: 'header-length'; file: number; length: bigint }
  | { kind: 'header-field'; file: number; tensor: number; field: string; value: unknown }
  | { kind: 'header-copy-offsets'; file: number; from: number; to: number }
  | { kind: 'header-duplicate-key'; file: number; tensor: number }
  | { kind: 'header-drop'; file: number; tensor: number }
  | {
      kind: 'index-field';
      entry: number;
      value: unknown;
      path: 'weight_map' | 'entry' | 'total_size' | 'root';
    }
  | { kind: 'config-field'; key: string; value: unknown }
  | { kind: 'config-drop'; key: string }
  | { kind: 'json-text'; file: 'config' | 'index'; at: number; insert: string };

/** Numbers that break naive parsers: huge, negative, fractional, past 2^53, and near the limits. */
const nastyNumber = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1,
    2,
    0.5,
    -0,
    2 ** 31,
    2 ** 32,
    2 ** 40,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 64,
    1e308,
    -1e308,
    1e-300,
  ),
  fc.integer({ min: -1000, max: 100000 }),
  fc.double({ noNaN: true }),
);

/** Any JSON value, weighted towards numbers and the shapes a field could plausibly take. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyNumber },
  { weight: 2, arbitrary: fc.array(nastyNumber, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('F32', 'I8', 'U8', 'BF16', 'F16', 'bitnet', 'relu2', '', 'x'.repeat(300)),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, {}, [], [[]], '12') },
);

const CONFIG_KEYS = [
  'model_type',
  'architectures',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
  'rope_theta',
  'rms_norm_eps',
  'tie_word_embeddings',
  'hidden_act',
  'quantization_config',
  'torch_dtype',
  'bos_token_id',
  'eos_token_id',
  'rope_scaling',
];

export function mutationArb(): fc.Arbitrary<Mutation> {
  const file = fc.nat(7);
  const tensor = fc.nat(400);
  return fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      file,
      at: fc.nat(),
      header: fc.boolean(),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), file, keep: fc.nat() }),
    fc.record({
      kind: fc.constant('header-length' as const),
      file,
      length: fc.oneof(
        fc.constantFrom(0n, 1n, 2n ** 40n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 100n * 1024n * 1024n + 1n),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: 0n, max: 100_000n }),
      ),
    }),
    fc.record({
      kind: fc.constant('header-field' as const),
      file,
      tensor,
      field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'data_offsets', 'shape', '*', '__metadata__'),
      value: nastyValue,
    }),
    fc.record({ kind: fc.constant('header-copy-offsets' as const), file, from: tensor, to: tensor }),
    fc.record({ kind: fc.constant('header-duplicate-key' as const), file, tensor }),
    fc.record({ kind: fc.constant('header-drop' as const), file, tensor }),
    fc.record({
      kind: fc.constant('index-field' as const),
      entry: tensor,
      value: fc.oneof(
        nastyValue,
        fc.constantFrom('model-00003-of-00002.safetensors', '../model.safetensors', 'config.json'),
      ),
      path: fc.constantFrom(
        'weight_map' as const,
        'entry' as const,
        'entry' as const,
        'total_size' as const,
        'root' as const,
      ),
    }),
    fc.record({
      kind: fc.constant('config-field' as const),
      key: fc.constantFrom(...CONFIG_KEYS),
      value: nastyValue,
    }),
    fc.record({ kind: fc.constant('config-drop' as const), key: fc.constantFrom(...CONFIG_KEYS) }),
    fc.record({
      kind: fc.constant('json-text' as const),
      file: fc.constantFrom('config' as const, 'index' as const),
      at: fc.nat(),
      insert: fc.constantFrom(
        '\n',
        '}',
        '{',
        ',',
        '"',
        '\\',
        '\u0000',
        'null',
        '\n\n"x":\n',
        '\uFFFF',
        '\ud800',
      ),
    }),
  );
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The safetensors files of the folder, in a stable order. */
function safetensorsNames(folder: Folder): string[] {
  return Object.keys(folder)
    .filter((n) => n.endsWith('.safetensors'))
    .sort();
}

function pick<T>(items: readonly T[], i: number): T | undefined {
  return items.length === 0 ? undefined : items[i % items.length];
}

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, unknown> } | undefined {
  if (bytes.length < 8) return undefined;
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (length > bytes.length - 8) return undefined;
  try {
    const json = JSON.parse(dec.decode(bytes.subarray(8, 8 + length)));
    return json && typeof json === 'object' && !Array.isArray(json) ? { length, json } : undefined;
  } catch {
    return undefined;
  }
}

/** Rewrites the header text, keeping the data after it; the length prefix tells the truth. */
function withHeaderText(bytes: Uint8Array, oldLength: number, text: string): Uint8Array {
  const header = enc.encode(text);
  const out = new Uint8Array(8 + header.length + (bytes.length - 8 - oldLength));
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(bytes.subarray(8 + oldLength), 8 + header.length);
  return out;
}

function editJson(folder: Folder, name: string, edit: (json: unknown) => unknown): void {
  const bytes = folder[name];
  if (!bytes) return;
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(bytes));
  } catch {
    return;
  }
  folder[name] = enc.encode(JSON.stringify(edit(json)));
}

const INDEX = 'model.safetensors.index.json';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies `m` to a copy of `folder` (unchanged where the mutation does not apply). */
export function applyMutation(input: Folder, m: Mutation): Folder {
  const folder: Folder = { ...input };
  const files = safetensorsNames(folder);
  switch (m.kind) {
    case 'flip': {
      const name = pick(files, m.file);
      if (!name) break;
      const bytes = folder[name].slice();
      const h = headerOf(bytes);
      const span = m.header && h ? 8 + h.length : bytes.length;
      if (span === 0) break;
      bytes[m.at % span] ^= m.xor;
      folder[name] = bytes;
      break;
    }
    case 'truncate': {
      const name = pick(files, m.file);
      if (name) folder[name] = folder[name].slice(0, m.keep % (folder[name].length + 1));
      break;
    }
    case 'header-length': {
      const name = pick(files, m.file);
      if (!name || folder[name].length < 8) break;
      const bytes = folder[name].slice();
      new DataView(bytes.buffer).setBigUint64(0, m.length, true);
      folder[name] = bytes;
      break;
    }
    case 'header-field':
    case 'header-copy-offsets':
    case 'header-duplicate-key':
    case 'header-drop': {
      const name = pick(files, m.file);
      const h = name ? headerOf(folder[name]) : undefined;
      if (!name || !h) break;
      const json = h.json;
      const tensors = Object.keys(json).filter((k) => k !== '__metadata__');
      const t = pick(tensors, m.kind === 'header-copy-offsets' ? m.to : m.tensor);
      if (!t) break;
      let text: string;
      if (m.kind === 'header-field') {
        if (m.field === '__metadata__') json.__metadata__ = m.value;
        else if (m.field === '*') json[t] = m.value;
        else if (isObject(json[t])) json[t][m.field] = m.value;
        else break;
        text = JSON.stringify(json);
      } else if (m.kind === 'header-copy-offsets') {
        const from = pick(tensors, m.from)!;
        const source = json[from];
        const dest = json[t];
        if (!isObject(source) || !isObject(dest)) break;
        dest.data_offsets = source.data_offsets;
        text = JSON.stringify(json);
      } else if (m.kind === 'header-drop') {
        delete json[t];
        text = JSON.stringify(json);
      } else {
        // The same key twice in the text (JSON.parse keeps the last): a second entry with other offsets.
        const body = JSON.stringify(json);
        const twin = JSON.stringify({ dtype: 'U8', shape: [1], data_offsets: [0, 1] });
        text = `${body.slice(0, -1)},${JSON.stringify(t)}:${twin}}`;
      }
      folder[name] = withHeaderText(folder[name], h.length, text);
      break;
    }
    case 'index-field': {
      editJson(folder, INDEX, (json) => {
        if (m.path === 'root') return m.value;
        if (!json || typeof json !== 'object') return json;
        const idx = json as { weight_map?: Record<string, unknown>; metadata?: Record<string, unknown> };
        if (m.path === 'weight_map') idx.weight_map = m.value as Record<string, unknown>;
        else if (m.path === 'total_size') idx.metadata = { ...(idx.metadata ?? {}), total_size: m.value };
        else if (idx.weight_map && typeof idx.weight_map === 'object') {
          const key = pick(Object.keys(idx.weight_map), m.entry);
          if (key) idx.weight_map[key] = m.value;
        }
        return json;
      });
      break;
    }
    case 'config-field':
      editJson(folder, 'config.json', (json) => {
        if (json && typeof json === 'object') (json as Record<string, unknown>)[m.key] = m.value;
        return json;
      });
      break;
    case 'config-drop':
      editJson(folder, 'config.json', (json) => {
        if (json && typeof json === 'object') delete (json as Record<string, unknown>)[m.key];
        return json;
      });
      break;
    case 'json-text': {
      const name = m.file === 'config' ? 'config.json' : INDEX;
      const bytes = folder[name];
      if (!bytes) break;
      const text = dec.decode(bytes);
      const at = m.at % (text.length + 1);
      folder[name] = enc.encode(text.slice(0, at) + m.insert + text.slice(at));
      break;
    }
  }
  return folder;
}

export function describeMutations(ms: readonly Mutation[]): string {
  return ms.map((m) => JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).join(' then ');
}
