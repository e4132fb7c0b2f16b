/**
 * Sequential writers over the two browser file APIs. Both coalesce the engine's many small writes
 * (norm vectors, protobuf fragments) into large ones, because each write is a trip to the browser's
 * storage process.
 */
import { EnvironmentError } from '../../core/errors.ts';
import type { ByteSink } from '../../core/io/bytes.ts';

export const SINK_BUFFER_BYTES = 4 << 20;

/** A ByteSink the target can close on commit or drop, unflushed, on discard. */
export interface ClosableSink extends ByteSink {
  readonly closed: boolean;
  /** Releases the file without writing what is buffered (the file is about to be removed). */
  abandon(): Promise<void>;
}

abstract class CoalescingSink implements ClosableSink {
  private readonly buffer: Uint8Array;
  private filled = 0;
  protected position = 0;
  closed = false;

  constructor(
    protected readonly name: string,
    bufferBytes: number,
  ) {
    this.buffer = new Uint8Array(bufferBytes);
  }

  protected abstract writeAt(bytes: Uint8Array, position: number): Promise<void> | void;
  protected abstract finish(): Promise<void> | void;
  protected abstract release(): Promise<void> | void;

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error(`${this.name}: write after close`);
    if (bytes.length >= this.buffer.length) {
      // Copying a big block into the buffer only to write it again would double the memory traffic.
      await this.flush();
      await this.guarded(() => this.writeAt(bytes, this.position));
      this.position += bytes.length;
      return;
    }
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(from, from + n), this.filled);
      this.filled += n;
      from += n;
      if (this.filled === this.buffer.length) await this.flush();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
    } finally {
      await this.finish();
    }
  }

  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.filled = 0;
    try {
      await this.release();
    } catch {
      // The file is removed next; a handle that will not close cleanly changes nothing.
    }
  }

  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    const full = this.buffer.subarray(0, this.filled);
    await this.guarded(() => this.writeAt(full, this.position));
    this.position += this.filled;
    this.filled = 0;
  }

  /** Turns a full disk, an exhausted quota or a withdrawn permission into a message a person can act on. */
  private async guarded(write: () => Promise<void> | void): Promise<void> {
    try {
      await write();
    } catch (e) {
      const name = (e as Error)?.name;
      if (name === 'QuotaExceededError') {
        throw new EnvironmentError(
          `out of storage space after ${this.position} bytes`,
          {
            path: this.name,
            code: name,
            hint: 'Free disk space (or clear stored outputs), or convert into a folder on a larger drive. Nothing was kept.',
          },
          { cause: e },
        );
      }
      if (name === 'NotAllowedError' || name === 'SecurityError') {
        throw new EnvironmentError(
          'the browser withdrew permission to write',
          {
            path: this.name,
            code: name,
            hint: 'Allow the page to use the folder when asked and start again, or keep the output in browser storage.',
          },
          { cause: e },
        );
      }
      throw e;
    }
  }
}

/** OPFS only, dedicated workers only: synchronous positioned writes, the fastest path browsers offer. */
export class SyncAccessSink extends CoalescingSink {
  constructor(
    private readonly handle: FileSystemSyncAccessHandle,
    name: string,
    bufferBytes = SINK_BUFFER_BYTES,
  ) {
    super(name, bufferBytes);
    handle.truncate(0);
  }

  protected writeAt(bytes: Uint8Array, position: number): void {
    let done = 0;
    while (done < bytes.length) {
      const n = this.handle.write(bytes.subarray(done), { at: position + done });
      if (n <= 0) throw new Error(`${this.name}: storage accepted no bytes at ${position + done}`);
      done += n;
    }
  }

  protected finish(): void {
    try {
      this.handle.flush();
    } finally {
      this.handle.close();
    }
  }

  protected release(): void {
    this.handle.close();
  }
}

/** Any File System Access file (a folder the user picked, or OPFS on the main thread). */
export class WritableStreamSink extends CoalescingSink {
  constructor(
    private readonly writable: FileSystemWritableFileStream,
    name: string,
    bufferBytes = SINK_BUFFER_BYTES,
  ) {
    super(name, bufferBytes);
  }

  protected async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    await this.writable.write({ type: 'write', position, data: bytes as Uint8Array<ArrayBuffer> });
  }

  protected async finish(): Promise<void> {
    await this.writable.close();
  }

  /** Drops what was written: the browser's swap file never becomes the real file. */
  protected async release(): Promise<void> {
    await this.writable.abort();
  }
}
