/**
 * A ByteSink with a position and write coalescing: protobuf headers arrive in pieces of a few bytes,
 * which would be one OS write or one stream chunk each. Large payloads pass straight through, so no
 * weight is ever copied whole.
 */
import type { ByteSink } from '../io/bytes.ts';

const CHUNK_BYTES = 1 << 20;

export class SinkStream {
  /** Bytes accepted so far (written or buffered): the offset of the next byte in the file. */
  position = 0;
  private readonly buffer = new Uint8Array(CHUNK_BYTES);
  private used = 0;
  private zeros: Uint8Array | undefined;

  constructor(
    readonly name: string,
    private readonly sink: ByteSink,
    private readonly onBytes?: (n: number) => void,
  ) {}

  /** `bytes` may be reused by the caller once the returned promise settles. */
  async write(bytes: Uint8Array): Promise<void> {
    this.position += bytes.length;
    if (bytes.length <= this.buffer.length - this.used) return this.append(bytes);
    await this.flush();
    if (bytes.length < this.buffer.length) return this.append(bytes);
    await this.sink.write(bytes);
    this.onBytes?.(bytes.length);
  }

  async writeZeros(count: number): Promise<void> {
    this.zeros ??= new Uint8Array(64 * 1024);
    for (let left = count; left > 0; left -= this.zeros.length) {
      await this.write(this.zeros.subarray(0, Math.min(left, this.zeros.length)));
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const n = this.used;
    await this.sink.write(this.buffer.subarray(0, n));
    this.used = 0;
    this.onBytes?.(n);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.sink.close();
  }

  private async append(bytes: Uint8Array): Promise<void> {
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
    if (this.used === this.buffer.length) await this.flush();
  }
}
