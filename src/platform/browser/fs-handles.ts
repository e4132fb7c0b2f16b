/** Small helpers over File System Access handles that the DOM typings or older browsers lack. */

/** `dir.entries()` (typed only in the DOM.AsyncIterable lib, which this project does not load). */
export function entriesOf(dir: FileSystemDirectoryHandle): AsyncIterable<[string, FileSystemHandle]> {
  return (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries();
}

export function isNotFound(e: unknown): boolean {
  return (e as Error)?.name === 'NotFoundError';
}

/** `a/b/c.bin` → [['a', 'b'], 'c.bin']; rejects names that could escape the folder. */
export function splitName(name: string): [string[], string] {
  const parts = name.split('/');
  if (name === '' || name.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`output target: ${JSON.stringify(name)} is not a relative file name`);
  }
  return [parts.slice(0, -1), parts[parts.length - 1]];
}

export async function resolveParent(
  root: FileSystemDirectoryHandle,
  dirs: readonly string[],
  create: boolean,
): Promise<FileSystemDirectoryHandle> {
  let dir = root;
  for (const d of dirs) dir = await dir.getDirectoryHandle(d, { create });
  return dir;
}

type MovableHandle = FileSystemFileHandle & {
  move?: (destination: FileSystemDirectoryHandle, name: string) => Promise<void>;
};

/**
 * Moves a file between folders of the same storage. `move()` is a rename where the browser has it
 * (Chromium: OPFS, and picked folders in newer versions); elsewhere the bytes are streamed across,
 * which never holds the file in memory either.
 */
export async function moveFile(
  handle: FileSystemFileHandle,
  fromDir: FileSystemDirectoryHandle,
  fromName: string,
  toDir: FileSystemDirectoryHandle,
  toName: string,
): Promise<void> {
  // A file left by an earlier run under the same name is replaced, as a file manager's "replace" would.
  await toDir.removeEntry(toName).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  const movable = handle as MovableHandle;
  if (typeof movable.move === 'function') {
    try {
      await movable.move(toDir, toName);
      return;
    } catch (e) {
      const name = (e as Error)?.name;
      if (name !== 'NotSupportedError' && name !== 'InvalidModificationError' && name !== 'TypeError')
        throw e;
    }
  }
  const target = await toDir.getFileHandle(toName, { create: true });
  const writable = await target.createWritable({ keepExistingData: false });
  await (await handle.getFile()).stream().pipeTo(writable);
  await fromDir.removeEntry(fromName);
}
