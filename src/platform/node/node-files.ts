/**
 * Node adapters for the engine's byte contracts (src/core/io/bytes.ts): input files read lazily at
 * offsets through file handles, and outputs written to a staging folder that is renamed into place on
 * commit, so a failed or cancelled run never leaves a file that looks finished.
 */
import { randomBytes } from 'node:crypto';
import {
  access,
  constants,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  type FileHandle,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConversionError } from '../../core/errors.ts';
import type { ByteSink, ByteSource, InputFiles, OutputTarget } from '../../core/io/bytes.ts';
import { errnoCode, fsError, withFsErrors } from './fs-errors.ts';

/** Node refuses single reads and writes of 2 GiB or more; larger ranges go in pieces. */
const MAX_IO_BYTES = 1 << 30;

/** Big enough that a multi-GB output is written in few, disk-bound syscalls. */
export const DEFAULT_SINK_BUFFER_BYTES = 8 << 20;

export class NodeFileSource implements ByteSource {
  private handle?: Promise<FileHandle>;

  constructor(
    readonly path: string,
    readonly name: string,
    readonly size: number,
  ) {}

  /** Stats the file now; the handle itself is opened on the first read. */
  static async open(filePath: string, name = path.basename(filePath)): Promise<NodeFileSource> {
    const info = await withFsErrors(filePath, 'read', () => stat(filePath));
    if (!info.isFile()) {
      throw new ConversionError('not a regular file', { file: name, expected: 'a file', found: 'a folder' });
    }
    return new NodeFileSource(filePath, name, info.size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`${this.name}: bad read offset ${offset}, length ${length}`);
    }
    if (offset + length > this.size) {
      throw new RangeError(`${this.name}: read [${offset}, ${offset + length}) past its ${this.size} bytes`);
    }
    const handle = await this.getHandle();
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const want = Math.min(length - done, MAX_IO_BYTES);
      const { bytesRead } = await withFsErrors(this.path, 'read', () =>
        handle.read(out, done, want, offset + done),
      );
      if (bytesRead === 0) {
        throw new ConversionError('file is shorter than when it was opened (changed while reading?)', {
          file: this.name,
          expected: `${this.size} bytes`,
          found: `end of file at ${offset + done}`,
        });
      }
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }

  /** Whether a file handle is currently open (lets tests prove laziness). */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  private getHandle(): Promise<FileHandle> {
    if (!this.handle) {
      const opening = withFsErrors(this.path, 'read', () => open(this.path, 'r'));
      // A failed open is not cached, so a later read can try again.
      opening.catch(() => {
        if (this.handle === opening) this.handle = undefined;
      });
      this.handle = opening;
    }
    return this.handle;
  }
}

export function nodeByteSource(filePath: string, name?: string): Promise<NodeFileSource> {
  return NodeFileSource.open(filePath, name);
}

export interface NodeInputFiles extends InputFiles {
  /** The folder whose files `list()` names. */
  readonly folder: string;
  /** Closes every file handle opened through `open`. */
  close(): Promise<void>;
}

/** `inputPath` is a .safetensors file, an index .json (or any file of the model folder), or the folder. */
export async function openNodeInput(inputPath: string): Promise<NodeInputFiles> {
  const info = await stat(inputPath).catch((e: unknown) => {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw fsError(e, inputPath, 'read');
  });
  if (!info) {
    throw new ConversionError('input not found', {
      file: inputPath,
      expected: 'a .safetensors file, a *.safetensors.index.json or a model folder',
      found: 'nothing at that path',
    });
  }
  const folder = info.isDirectory() ? inputPath : path.dirname(inputPath);
  const entry = info.isDirectory() ? undefined : path.basename(inputPath);
  const names = await withFsErrors(folder, 'read', () => listFiles(folder));
  const sources = new Map<string, Promise<NodeFileSource>>();
  return {
    folder,
    entry,
    list: () => [...names],
    open(name) {
      if (!names.includes(name)) return Promise.resolve(undefined);
      let source = sources.get(name);
      if (!source) sources.set(name, (source = NodeFileSource.open(path.join(folder, name), name)));
      return source;
    },
    async close() {
      const all = [...sources.values()];
      sources.clear();
      await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
    },
  };
}

/** Regular files directly in `folder`, following symlinks (Hugging Face cache snapshots are symlinks). */
async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (e.isFile()) names.push(e.name);
    else if (e.isSymbolicLink() && (await stat(path.join(folder, e.name)).catch(() => undefined))?.isFile()) {
      names.push(e.name);
    }
  }
  return names.sort();
}

/**
 * Sequential file writer that coalesces small writes into large ones and keeps one write in flight
 * while the caller fills the next buffer, so producing and writing overlap.
 */
export class NodeFileSink implements ByteSink {
  private buffer: Uint8Array;
  private spare: Uint8Array;
  private filled = 0;
  private position = 0;
  private inFlight?: Promise<void>;
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    bufferBytes: number,
    /** The path named in error messages (the final name, not the hidden staging copy). */
    private readonly shownPath: string,
  ) {
    this.buffer = new Uint8Array(bufferBytes);
    this.spare = new Uint8Array(bufferBytes);
  }

  static async create(
    filePath: string,
    bufferBytes = DEFAULT_SINK_BUFFER_BYTES,
    shownPath = filePath,
  ): Promise<NodeFileSink> {
    const handle = await withFsErrors(shownPath, 'write', () => open(filePath, 'w'));
    return new NodeFileSink(handle, bufferBytes, shownPath);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes accepted so far, written or still buffered. */
  get bytesWritten(): number {
    return this.position + this.filled;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('NodeFileSink: write after close');
    // Every byte goes through the double buffer, large blocks too: the copy costs far less than the
    // write system call, and it lets the caller produce the next block while this one reaches the disk
    // (callers hand out views of reused memory that must not be held across the await).
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
      await this.drain();
    } finally {
      await withFsErrors(this.shownPath, 'write', () => this.handle.close());
    }
  }

  /** Hands the filled buffer to the disk and swaps in the spare; waits only for the previous write. */
  private async flush(): Promise<void> {
    await this.drain();
    if (this.filled === 0) return;
    const full = this.buffer.subarray(0, this.filled);
    const at = this.position;
    this.position += this.filled;
    [this.buffer, this.spare] = [this.spare, this.buffer];
    this.filled = 0;
    this.inFlight = withFsErrors(this.shownPath, 'write', () => writeFully(this.handle, full, at));
    // The failure is reported by the next drain(); this only stops it counting as unhandled meanwhile.
    this.inFlight.catch(() => {});
  }

  private async drain(): Promise<void> {
    const pending = this.inFlight;
    this.inFlight = undefined;
    await pending;
  }
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const n = Math.min(bytes.length - done, MAX_IO_BYTES);
    const { bytesWritten } = await handle.write(bytes, done, n, position + done);
    done += bytesWritten;
  }
}

export interface NodeOutputTarget extends OutputTarget {
  /** Folder the outputs appear in on commit (the output file's folder). */
  readonly outputDir: string;
  /** Hidden folder next to the outputs that holds them until commit. */
  readonly stagingDir: string;
  /** Where a created file lives before commit, so checks can open it by path. */
  stagedPath(name: string): string;
  create(name: string): Promise<NodeFileSink>;
  open(name: string): Promise<NodeFileSource | undefined>;
}

/**
 * Outputs are staged in `<dir>/.<basename>.partial-<random>/` next to the output file: the same
 * filesystem, so commit is a rename, and hidden, so nothing half-written sits under a final name.
 */
export function createNodeOutputTarget(
  outputFile: string,
  options: { bufferBytes?: number } = {},
): NodeOutputTarget {
  const outputDir = path.dirname(path.resolve(outputFile));
  const stagingDir = path.join(
    outputDir,
    `.${path.basename(outputFile)}.partial-${randomBytes(6).toString('hex')}`,
  );
  const sinks = new Map<string, NodeFileSink>();
  const readers: NodeFileSource[] = [];
  let state: 'open' | 'committed' | 'discarded' = 'open';
  /** Folders this target created on the way to the staging folder (missing parents), outermost first. */
  let madeFolders: string[] = [];

  const stagedPath = (name: string) => path.join(stagingDir, checkOutputName(name));
  const finalPath = (name: string) => path.join(outputDir, checkOutputName(name));
  const makeFolder = async (dir: string, shown: string) => {
    const first = await withFsErrors(shown, 'write', () => mkdir(dir, { recursive: true }));
    // mkdir reports the outermost folder it created; note every new one above the staging folder.
    if (first && madeFolders.length === 0 && path.relative(first, stagingDir) !== '') {
      for (let d = path.dirname(stagingDir); d.length >= first.length; d = path.dirname(d)) {
        madeFolders.unshift(d);
        if (d === first) break;
      }
    }
  };
  /** Removes the parents this target created, if they are still empty (never anything else). */
  const removeMadeFolders = async () => {
    for (const dir of madeFolders.reverse()) await rmdir(dir).catch(() => {});
    madeFolders = [];
  };
  // Read-back handles must be closed before renames (Windows refuses to move open files).
  const closeReaders = () => Promise.all(readers.splice(0).map((r) => r.close()));

  return {
    outputDir,
    stagingDir,
    stagedPath,
    async create(name) {
      if (state !== 'open') throw new Error(`output target: create(${name}) after ${state}`);
      if (sinks.has(name)) throw new Error(`output target: ${name} created twice`);
      const file = stagedPath(name);
      await makeFolder(path.dirname(file), outputDir);
      const sink = await NodeFileSink.create(file, options.bufferBytes, finalPath(name));
      sinks.set(name, sink);
      return sink;
    },
    async open(name) {
      if (state === 'committed') throw new Error(`output target: open(${name}) after commit`);
      const sink = sinks.get(name);
      if (!sink || state === 'discarded') return undefined;
      // Reading a file whose last bytes may still sit in the sink's buffer would see a truncated file.
      if (!sink.isClosed) throw new Error(`output target: open(${name}) before its sink was closed`);
      const reader = await NodeFileSource.open(stagedPath(name), name);
      readers.push(reader);
      return reader;
    },
    async commit() {
      if (state !== 'open') throw new Error(`output target: commit after ${state}`);
      for (const sink of sinks.values()) await sink.close();
      await closeReaders();
      for (const name of sinks.keys()) {
        const to = finalPath(name);
        await withFsErrors(path.dirname(to), 'write', () => mkdir(path.dirname(to), { recursive: true }));
        await withFsErrors(to, 'write', () => rename(stagedPath(name), to));
      }
      state = 'committed';
      madeFolders = [];
      await rm(stagingDir, { recursive: true, force: true });
    },
    async discard() {
      if (state === 'committed') return;
      state = 'discarded';
      await Promise.all([...sinks.values()].map((s) => s.close().catch(() => {})));
      await closeReaders();
      await rm(stagingDir, { recursive: true, force: true });
      await removeMadeFolders();
    },
  };
}

/**
 * Refuses an output location that cannot work before any conversion work is done: `outputDir` (the
 * folder the outputs go in; it may be created) must lead to a writable folder, and `outputFile`, when
 * given, must not be a folder.
 */
export async function checkOutputLocation(outputDir: string, outputFile?: string): Promise<void> {
  if (outputFile !== undefined) {
    const info = await stat(outputFile).catch(() => undefined);
    if (info?.isDirectory())
      throw fsError(Object.assign(new Error('is a folder'), { code: 'EISDIR' }), outputFile, 'write');
  }
  // The nearest folder that exists decides: the rest is created on the first write.
  let dir = path.resolve(outputDir);
  for (;;) {
    const info = await stat(dir).catch((e: unknown) => {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw fsError(e, outputDir, 'write');
    });
    if (info) {
      if (!info.isDirectory()) {
        throw fsError(Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }), outputDir, 'write');
      }
      await withFsErrors(outputDir, 'write', () => access(dir, constants.W_OK | constants.X_OK));
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * A scratch target in its own fresh folder under the system's temp folder (for the runtime check's
 * probe model): discarding it removes that folder too, so nothing stays behind.
 */
export function createNodeScratchTarget(fileName: string): NodeOutputTarget {
  const folder = path.join(tmpdir(), `bitnet2onnx-scratch-${process.pid}-${randomBytes(4).toString('hex')}`);
  const target = createNodeOutputTarget(path.join(folder, fileName));
  return {
    ...target,
    async discard() {
      await target.discard();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** Output names are relative paths inside the output folder; nothing may land outside it. */
function checkOutputName(name: string): string {
  const parts = name.split('/');
  if (
    name === '' ||
    path.isAbsolute(name) ||
    name.includes('\\') ||
    parts.some((p) => p === '..' || p === '' || p === '.')
  ) {
    throw new Error(`output target: ${JSON.stringify(name)} is not a relative file name`);
  }
  return path.join(...parts);
}
