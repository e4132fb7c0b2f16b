/**
 * OutputTarget over a File System Access folder: OPFS, or a folder the user picked. Files are written
 * into a hidden staging folder beside their destination and moved into place on commit, so a failed or
 * cancelled run leaves nothing that looks finished. Each staging folder is guarded by a Web Lock held
 * for the run's life: when a worker is terminated mid-run its lock is released, and the next cleanup
 * can tell an abandoned staging folder from one another tab is still writing.
 */
import type { ByteSource, OutputTarget } from '../../core/io/bytes.ts';
import { BlobSource } from './blob-source.ts';
import { SyncAccessSink, WritableStreamSink, type ClosableSink } from './file-sinks.ts';
import { entriesOf, isNotFound, moveFile, resolveParent, splitName } from './fs-handles.ts';

export const STAGING_PREFIX = '.bitnet2onnx-partial-';

export interface DirectoryTargetOptions {
  /** Folder the files appear in on commit (created then, if given as a function). */
  destination: FileSystemDirectoryHandle | (() => Promise<FileSystemDirectoryHandle>);
  /** Folder that holds the staging folder: the same storage as the destination, so commit is a move. */
  stagingParent: FileSystemDirectoryHandle;
  /** Write through FileSystemSyncAccessHandle (OPFS inside a dedicated worker only). */
  syncAccess: boolean;
  /** Runs after a successful commit, e.g. to drop earlier outputs. */
  afterCommit?: (destination: FileSystemDirectoryHandle) => Promise<void>;
}

export interface DirectoryTarget extends OutputTarget {
  /** Name of the staging folder inside `stagingParent`. */
  readonly stagingName: string;
  /** Names created so far, in creation order. */
  created(): string[];
  /** The destination after commit. */
  committedTo(): FileSystemDirectoryHandle | undefined;
}

export async function createDirectoryTarget(opts: DirectoryTargetOptions): Promise<DirectoryTarget> {
  const stagingName = STAGING_PREFIX + randomId();
  const releaseLock = await holdLock(lockName(stagingName));
  const files = new Map<string, { handle: FileSystemFileHandle; sink: ClosableSink }>();
  let staging: FileSystemDirectoryHandle | undefined;
  let destination: FileSystemDirectoryHandle | undefined;
  let state: 'open' | 'committed' | 'discarded' = 'open';

  const stagingDir = async () =>
    (staging ??= await opts.stagingParent.getDirectoryHandle(stagingName, { create: true }));

  const finish = () => {
    state = state === 'open' ? 'discarded' : state;
    releaseLock();
  };

  return {
    stagingName,
    created: () => [...files.keys()],
    committedTo: () => destination,

    async create(name) {
      if (state !== 'open') throw new Error(`output target: create(${name}) after ${state}`);
      if (files.has(name)) throw new Error(`output target: ${name} created twice`);
      const [dirs, base] = splitName(name);
      const dir = await resolveParent(await stagingDir(), dirs, true);
      const handle = await dir.getFileHandle(base, { create: true });
      const sink = opts.syncAccess
        ? new SyncAccessSink(await handle.createSyncAccessHandle(), name)
        : new WritableStreamSink(await handle.createWritable({ keepExistingData: false }), name);
      files.set(name, { handle, sink });
      return sink;
    },

    async open(name): Promise<ByteSource | undefined> {
      const file = files.get(name);
      if (!file) return undefined;
      // A sync access handle locks the file against reading; the engine has finished writing by now.
      await file.sink.close();
      return new BlobSource(await file.handle.getFile(), name);
    },

    async commit() {
      if (state !== 'open') throw new Error(`output target: commit after ${state}`);
      for (const { sink } of files.values()) await sink.close();
      const dest = typeof opts.destination === 'function' ? await opts.destination() : opts.destination;
      const root = await stagingDir();
      for (const [name, { handle }] of files) {
        const [dirs, base] = splitName(name);
        await moveFile(
          handle,
          await resolveParent(root, dirs, false),
          base,
          await resolveParent(dest, dirs, true),
          base,
        );
      }
      state = 'committed';
      destination = dest;
      await removeEntry(opts.stagingParent, stagingName);
      finish();
      await opts.afterCommit?.(dest);
    },

    async discard() {
      if (state === 'committed') return;
      state = 'discarded';
      await Promise.all([...files.values()].map(({ sink }) => sink.abandon()));
      await removeEntry(opts.stagingParent, stagingName);
      finish();
    },
  };
}

/**
 * Removes staging folders left behind by runs that cannot clean up after themselves (a terminated
 * worker, a closed tab). Each is removed while holding its lock, so a folder another live run is still
 * writing is kept. A terminated worker's locks are released by the browser shortly after, not at once:
 * `waitMs` is how long to wait for a held lock (0: skip folders whose lock is held now).
 */
export async function removeAbandonedStaging(
  parent: FileSystemDirectoryHandle,
  waitMs = 0,
): Promise<string[]> {
  const names: string[] = [];
  for await (const [name] of entriesOf(parent)) if (name.startsWith(STAGING_PREFIX)) names.push(name);
  const removed: string[] = [];
  for (const name of names) {
    if (await underLock(lockName(name), waitMs, () => removeEntry(parent, name))) removed.push(name);
  }
  return removed;
}

/** Runs `fn` holding the lock; false when the lock stayed held by someone else (then `fn` did not run). */
async function underLock(name: string, waitMs: number, fn: () => Promise<void>): Promise<boolean> {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    await fn();
    return true;
  }
  if (waitMs <= 0) {
    return locks.request(name, { ifAvailable: true }, async (lock) => {
      if (!lock) return false;
      await fn();
      return true;
    });
  }
  try {
    return await locks.request(name, { signal: AbortSignal.timeout(waitMs) }, async () => {
      await fn();
      return true;
    });
  } catch (e) {
    if ((e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError') return false;
    throw e;
  }
}

async function removeEntry(parent: FileSystemDirectoryHandle, name: string): Promise<void> {
  try {
    await parent.removeEntry(name, { recursive: true });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

const lockName = (stagingName: string) => `bitnet2onnx:${stagingName}`;

/** Holds an exclusive Web Lock until the returned function is called (no-op where locks are missing). */
async function holdLock(name: string): Promise<() => void> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return () => {};
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await new Promise<void>((granted) => {
    void locks.request(name, () => {
      granted();
      return held;
    });
  });
  return release;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
