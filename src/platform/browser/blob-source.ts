/**
 * Browser byte source: a File or Blob read through slices, so only the requested window is ever
 * materialised. Works on user files, fetched sample blobs and files read back from OPFS alike.
 */
import { ConversionError } from '../../core/errors.ts';
import type { ByteSource } from '../../core/io/bytes.ts';

export class BlobSource implements ByteSource {
  readonly size: number;

  constructor(
    private readonly blob: Blob,
    readonly name: string,
  ) {
    this.size = blob.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`${this.name}: bad read offset ${offset}, length ${length}`);
    }
    if (offset + length > this.size) {
      throw new RangeError(`${this.name}: read [${offset}, ${offset + length}) past its ${this.size} bytes`);
    }
    let buffer: ArrayBuffer;
    try {
      buffer = await this.blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      // Chromium reports a file changed or removed on disk after it was picked as NotReadableError.
      throw new ConversionError(`cannot read the file (${(e as Error).name}: ${(e as Error).message})`, {
        file: this.name,
        expected: 'the file as it was when picked',
        found: 'it changed, moved or became unreadable; pick it again',
      });
    }
    if (buffer.byteLength !== length) {
      throw new ConversionError('file is shorter than when it was picked (changed while reading?)', {
        file: this.name,
        expected: `${length} bytes at offset ${offset}`,
        found: `${buffer.byteLength} bytes`,
      });
    }
    return new Uint8Array(buffer);
  }
}
