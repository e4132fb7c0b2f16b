/**
 * A checkpoint is one .safetensors file or a sharded set described by `*.safetensors.index.json`.
 * Opening one reads only headers (and the index); tensors stay windows into their files, so any number
 * of shards costs a few kilobytes each until a tensor's bytes are asked for.
 */
import { ConversionError } from '../errors.ts';
import { readText, type ByteSource, type InputFiles } from '../io/bytes.ts';
import { jsonSnippet, oneLine, readSafetensorsHeader, type TensorInfo } from './header.ts';

export type { TensorInfo } from './header.ts';

export interface Checkpoint {
  /** The safetensors files the tensors live in (one, or every shard in name order). */
  files: string[];
  /** The index the shards came from, when sharded. */
  index?: string;
  tensors: Map<string, TensorInfo>;
  get(name: string): TensorInfo | undefined;
  /** Bytes of tensor data over all tensors (for progress and planning). */
  totalBytes: number;
}

const INDEX_SUFFIX = '.safetensors.index.json';
const DEFAULT_INDEX = `model${INDEX_SUFFIX}`;
const DEFAULT_SINGLE = 'model.safetensors';

export async function openCheckpoint(files: InputFiles): Promise<Checkpoint> {
  const entry = resolveCheckpointEntry(files);
  if (entry.endsWith(INDEX_SUFFIX)) return openSharded(files, entry);
  const header = await readSafetensorsHeader(await openRequired(files, entry));
  return makeCheckpoint([entry], undefined, header.tensors);
}

/**
 * Which file to start from: what the user pointed at when it is a checkpoint file, else the folder's
 * conventional names, else the only candidate there is.
 */
export function resolveCheckpointEntry(files: InputFiles): string {
  const { entry } = files;
  if (entry && (entry.endsWith('.safetensors') || entry.endsWith(INDEX_SUFFIX))) return entry;
  // A config.json (or other .json) points at its folder; anything else (.bin, .gguf) is the wrong format,
  // and quietly converting a different file of the folder instead would be a surprise.
  if (entry && !entry.endsWith('.json')) {
    throw new ConversionError('not a safetensors checkpoint', {
      file: entry,
      expected: 'a .safetensors file, a *.safetensors.index.json or a model folder',
      found: entry.includes('.')
        ? `a ${entry.slice(entry.lastIndexOf('.'))} file`
        : 'a file without extension',
    });
  }
  const names = files.list();
  for (const name of [DEFAULT_INDEX, DEFAULT_SINGLE]) if (names.includes(name)) return name;
  const indexes = names.filter((n) => n.endsWith(INDEX_SUFFIX));
  if (indexes.length === 1) return indexes[0];
  const singles = names.filter((n) => n.endsWith('.safetensors'));
  if (singles.length === 1 && indexes.length === 0) return singles[0];
  const found = [...indexes, ...singles];
  throw new ConversionError(
    found.length === 0
      ? 'no safetensors checkpoint found'
      : 'cannot tell which safetensors file is the model',
    {
      file: entry,
      expected: `${DEFAULT_SINGLE}, ${DEFAULT_INDEX} or a single *.safetensors`,
      found: found.length === 0 ? listForMessage(names) : listForMessage(found),
    },
  );
}

/**
 * Reads a 1D window `[start, start + length)` of a tensor's bytes. Callers stream a tensor by walking
 * windows, so no tensor (let alone a file) needs to be in memory at once.
 */
export async function readTensorBytes(t: TensorInfo, start: number, length: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0) {
    throw new RangeError(`tensor ${t.name}: bad window start ${start}, length ${length}`);
  }
  if (start + length > t.byteLength) {
    throw new RangeError(
      `tensor ${t.name}: window [${start}, ${start + length}) is outside its ${t.byteLength} bytes`,
    );
  }
  const bytes = await t.source.read(t.byteOffset + start, length);
  if (bytes.length !== length) {
    // The header said the data was there; a short read means the file changed or was cut under us.
    throw new ConversionError('file ended inside tensor data (truncated?)', {
      file: t.source.name,
      tensor: t.name,
      expected: `${length} bytes at offset ${t.byteOffset + start}`,
      found: `${bytes.length} bytes`,
    });
  }
  return bytes;
}

async function openSharded(files: InputFiles, indexName: string): Promise<Checkpoint> {
  const weightMap = parseWeightMap(indexName, await readText(await openRequired(files, indexName)));
  const shardNames = [...new Set(weightMap.values())].sort();
  const byShard = new Map<string, Map<string, TensorInfo>>();
  for (const shard of shardNames) {
    const source = await files.open(resolveSibling(indexName, shard));
    if (!source) {
      const tensor = [...weightMap].find(([, s]) => s === shard)?.[0];
      throw new ConversionError('shard listed in the index is missing', {
        file: indexName,
        tensor,
        expected: `file ${shard} next to the index`,
        found: 'no such file',
      });
    }
    const header = await readSafetensorsHeader(source);
    byShard.set(shard, new Map(header.tensors.map((t) => [t.name, t])));
  }
  const tensors: TensorInfo[] = [];
  for (const [name, shard] of weightMap) {
    const info = byShard.get(shard)?.get(name);
    if (!info) {
      throw new ConversionError('tensor listed in the index is not in its shard', {
        file: indexName,
        tensor: name,
        expected: `tensor in ${shard}`,
        found: `not among the ${byShard.get(shard)?.size ?? 0} tensors of ${shard}`,
      });
    }
    tensors.push(info);
  }
  return makeCheckpoint(
    shardNames.map((s) => resolveSibling(indexName, s)),
    indexName,
    tensors,
  );
}

/** `weight_map` as tensor → shard. The index's other fields (metadata.total_size) are not needed. */
function parseWeightMap(indexName: string, text: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConversionError('index is not valid JSON', {
      file: indexName,
      expected: 'a JSON object with weight_map',
      found: oneLine(err instanceof Error ? err.message : String(err)),
    });
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ConversionError('index has no weight_map object', {
      file: indexName,
      expected: '{"weight_map": {tensor: shard file}}',
      found: weightMap === undefined ? 'no weight_map' : jsonSnippet(weightMap),
    });
  }
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !shard.endsWith('.safetensors') || !isPlainRelative(shard)) {
      throw new ConversionError('weight_map entry is not a shard file name', {
        file: indexName,
        tensor,
        expected: 'a .safetensors file name in the same folder',
        found: jsonSnippet(shard),
      });
    }
    map.set(tensor, shard);
  }
  return map;
}

/** Shard names in an index are relative to the index's own folder. */
function resolveSibling(indexName: string, shard: string): string {
  const slash = indexName.lastIndexOf('/');
  return slash < 0 ? shard : `${indexName.slice(0, slash + 1)}${shard}`;
}

/** Refuses names that could escape the model folder (`..`, absolute paths). */
function isPlainRelative(name: string): boolean {
  return (
    !name.startsWith('/') && !name.includes('\\') && name.split('/').every((p) => p !== '..' && p !== '')
  );
}

async function openRequired(files: InputFiles, name: string): Promise<ByteSource> {
  const source = await files.open(name);
  if (!source) {
    throw new ConversionError('file not found', { file: name, expected: 'a readable file', found: 'none' });
  }
  return source;
}

function makeCheckpoint(files: string[], index: string | undefined, list: TensorInfo[]): Checkpoint {
  const tensors = new Map(list.map((t) => [t.name, t]));
  const totalBytes = list.reduce((sum, t) => sum + t.byteLength, 0);
  return { files, index, tensors, get: (name) => tensors.get(name), totalBytes };
}

function listForMessage(names: readonly string[]): string {
  if (names.length === 0) return 'no files';
  const shown = names.slice(0, 6).join(', ');
  return names.length > 6 ? `${shown}, … (${names.length} files)` : shown;
}
