/**
 * Reads a written .onnx from a ByteSource without loading its weights: a small streaming walker descends
 * ModelProto → GraphProto → each initializer TensorProto, skips the raw_data payloads (recording where
 * they are and how long), and hands every other field's bytes to protobufjs to decode. A 1.9 GB inline
 * model thus costs a few reads of its headers, not 1.9 GB of memory.
 */
import type { ByteSource } from '../io/bytes.ts';
import { decodePlain, FIELD, GraphProto, ModelProto, TensorProto, WireType } from './schema.ts';
import type { MessageCodec, OnnxGraph, OnnxModel, OnnxTensor } from './schema.ts';
import { concatBytes, decodeVarint } from './wire.ts';

/** The file is not well-formed protobuf; `offset` is where reading went wrong. */
export class MalformedProtobuf extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`malformed protobuf at byte ${offset}: ${message}`);
    this.name = 'MalformedProtobuf';
  }
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface ScannedTensor {
  /** Every field but raw_data, decoded. */
  tensor: OnnxTensor;
  /** Each raw_data occurrence (normally zero or one). */
  rawData: ByteRange[];
}

export interface ScannedGraph {
  /** Every field but the initializers, decoded. */
  graph: OnnxGraph;
  initializers: ScannedTensor[];
}

export interface ScannedModel {
  /** Every field but the graph, decoded. */
  model: OnnxModel;
  /** Each graph occurrence (normally exactly one). */
  graphs: ScannedGraph[];
}

export async function scanModel(source: ByteSource): Promise<ScannedModel> {
  const r = new SourceReader(source);
  const graphs: ScannedGraph[] = [];
  const rest = await scanFields(r, source.size, async (field, end) => {
    if (field !== FIELD.modelGraph) return false;
    graphs.push(await scanGraph(r, end));
    return true;
  });
  return { model: decodeAt<OnnxModel>(ModelProto, rest, 0), graphs };
}

async function scanGraph(r: SourceReader, end: number): Promise<ScannedGraph> {
  const start = r.pos;
  const initializers: ScannedTensor[] = [];
  const rest = await scanFields(r, end, async (field, fieldEnd) => {
    if (field !== FIELD.graphInitializer) return false;
    initializers.push(await scanTensor(r, fieldEnd));
    return true;
  });
  return { graph: decodeAt<OnnxGraph>(GraphProto, rest, start), initializers };
}

async function scanTensor(r: SourceReader, end: number): Promise<ScannedTensor> {
  const start = r.pos;
  const rawData: ByteRange[] = [];
  const rest = await scanFields(r, end, async (field, fieldEnd) => {
    if (field !== FIELD.tensorRawData) return false;
    rawData.push({ offset: r.pos, length: fieldEnd - r.pos });
    r.pos = fieldEnd;
    return true;
  });
  return { tensor: decodeAt<OnnxTensor>(TensorProto, rest, start), rawData };
}

/**
 * Walks the fields of one message ending at `end`. For a length-delimited field, `take(field, fieldEnd)`
 * may consume its payload itself (returning true); every field not taken is collected as raw bytes,
 * tag included, and the concatenation is returned for protobufjs to decode.
 */
async function scanFields(
  r: SourceReader,
  end: number,
  take: (field: number, fieldEnd: number) => Promise<boolean>,
): Promise<Uint8Array> {
  const kept: Uint8Array[] = [];
  while (r.pos < end) {
    const at = r.pos;
    const tagBytes = await r.varint();
    const tag = decodeVarint(tagBytes);
    const field = Math.floor(tag / 8);
    if (field === 0) throw new MalformedProtobuf('field number 0', at);
    switch (tag % 8) {
      case WireType.VARINT:
        kept.push(tagBytes, await r.varint());
        break;
      case WireType.I64:
        kept.push(tagBytes, await r.bytes(8));
        break;
      case WireType.I32:
        kept.push(tagBytes, await r.bytes(4));
        break;
      case WireType.LEN: {
        const lenBytes = await r.varint();
        const fieldEnd = r.pos + decodeVarint(lenBytes);
        if (fieldEnd > end) {
          throw new MalformedProtobuf(`field ${field} runs past the end of its message`, at);
        }
        if (await take(field, fieldEnd)) {
          if (r.pos !== fieldEnd) throw new MalformedProtobuf(`field ${field} has trailing bytes`, r.pos);
        } else {
          kept.push(tagBytes, lenBytes, await r.bytes(fieldEnd - r.pos));
        }
        break;
      }
      default:
        throw new MalformedProtobuf(`unsupported wire type ${tag % 8} (field ${field})`, at);
    }
    if (r.pos > end) throw new MalformedProtobuf(`field ${field} runs past the end of its message`, at);
  }
  return concatBytes(kept);
}

function decodeAt<T>(type: MessageCodec, bytes: Uint8Array, offset: number): T {
  try {
    return decodePlain<T>(type, bytes);
  } catch (e) {
    throw new MalformedProtobuf(`${type.name}: ${(e as Error).message}`, offset);
  }
}

/** Sequential reads through a window of the source, so tags and small fields cost no read each. */
class SourceReader {
  pos = 0;
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly windowBytes = 1 << 20,
  ) {}

  /** Raw bytes of one varint (at most 10). */
  async varint(): Promise<Uint8Array> {
    const at = this.pos;
    await this.ensure(Math.min(10, this.source.size - at));
    const w = this.window;
    for (let i = at - this.windowStart, n = 0; n < 10 && i < w.length; i++, n++) {
      if ((w[i] & 0x80) === 0) {
        this.pos = at + n + 1;
        return w.slice(at - this.windowStart, i + 1);
      }
    }
    throw new MalformedProtobuf('truncated or overlong varint', at);
  }

  /** A copy of the next `length` bytes. */
  async bytes(length: number): Promise<Uint8Array> {
    const at = this.pos;
    if (length > this.windowBytes) {
      if (at + length > this.source.size) throw new MalformedProtobuf('unexpected end of file', at);
      this.pos += length;
      return await this.source.read(at, length);
    }
    await this.ensure(length);
    this.pos += length;
    return this.window.slice(at - this.windowStart, at - this.windowStart + length);
  }

  private async ensure(length: number): Promise<void> {
    const at = this.pos;
    if (at + length > this.source.size) throw new MalformedProtobuf('unexpected end of file', at);
    if (at >= this.windowStart && at + length <= this.windowStart + this.window.length) return;
    const size = Math.min(Math.max(length, this.windowBytes), this.source.size - at);
    this.window = await this.source.read(at, size);
    this.windowStart = at;
  }
}
