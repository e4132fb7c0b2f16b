/**
 * The engine's only view of storage. Node adapters wrap file handles, browser adapters wrap Blobs,
 * File System Access handles or OPFS. Nothing here ever holds a whole file.
 */

/** A random-access, read-only file. */
export interface ByteSource {
  /** Name used in messages (relative name inside the model folder, or the file name). */
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes starting at `offset`; rejects if the range is past the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** The files of a model: a lone .safetensors, a sharded set with its index, or a whole folder. */
export interface InputFiles {
  /** Relative names of every file available, e.g. `config.json`, `model-00001-of-00002.safetensors`. */
  list(): string[];
  /** Opens one file by its relative name; undefined when absent. */
  open(name: string): Promise<ByteSource | undefined>;
  /** The file the user pointed at (a .safetensors, an index .json), if they pointed at one file. */
  readonly entry?: string;
}

/** A sequential writer. `write` may keep no reference to `bytes` after its promise settles. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where outputs go. Files are created in a staging area and only appear under their final names on
 * `commit`, so a failed or cancelled run leaves nothing that looks complete.
 */
export interface OutputTarget {
  create(name: string): Promise<ByteSink>;
  /** Reads back a file created (and closed) earlier in this run, e.g. to validate it before commit. */
  open(name: string): Promise<ByteSource | undefined>;
  /** Makes every created file visible under its final name. */
  commit(): Promise<void>;
  /** Removes everything created so far. Safe to call more than once. */
  discard(): Promise<void>;
}

export async function readText(source: ByteSource): Promise<string> {
  return new TextDecoder().decode(await source.read(0, source.size));
}
