/**
 * Outputs in the origin-private file system: disk-backed, invisible to other sites, and offered to the
 * user one download at a time. Only the latest committed run is kept, under `outputs/<run>/`.
 */
import type { OutputTarget } from '../../core/io/bytes.ts';
import { createDirectoryTarget, removeAbandonedStaging, type DirectoryTarget } from './directory-target.ts';
import { entriesOf, isNotFound } from './fs-handles.ts';
import { lazyTarget } from './lazy-target.ts';

export const OPFS_OUTPUTS = 'outputs';

export function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  if (!globalThis.navigator?.storage?.getDirectory) {
    throw new Error('this browser has no origin-private file system (OPFS)');
  }
  return navigator.storage.getDirectory();
}

/** A target staged in OPFS; commit moves the files to `outputs/<run>/` and drops earlier runs. */
export async function createOpfsTarget(options: { syncAccess: boolean }): Promise<DirectoryTarget> {
  const root = await opfsRoot();
  const run = `run-${Date.now().toString(36)}`;
  return createDirectoryTarget({
    stagingParent: root,
    syncAccess: options.syncAccess,
    destination: async () =>
      (await root.getDirectoryHandle(OPFS_OUTPUTS, { create: true })).getDirectoryHandle(run, {
        create: true,
      }),
    afterCommit: async () => {
      const outputs = await root.getDirectoryHandle(OPFS_OUTPUTS);
      const stale: string[] = [];
      for await (const [name] of entriesOf(outputs)) if (name !== run) stale.push(name);
      for (const name of stale) await outputs.removeEntry(name, { recursive: true });
    },
  });
}

/**
 * A target for a file kept beside the runs in `outputs/` (the "Download all" zip): staged like a run, so a
 * failed or cancelled zip leaves nothing; removed with the outputs by the next conversion or a clear.
 */
export async function createOpfsZipTarget(options: { syncAccess: boolean }): Promise<DirectoryTarget> {
  const root = await opfsRoot();
  return createDirectoryTarget({
    stagingParent: root,
    syncAccess: options.syncAccess,
    destination: () => root.getDirectoryHandle(OPFS_OUTPUTS, { create: true }),
  });
}

/** Staging-only space for intermediate models (the runtime check's probe); it is only ever discarded. */
export function createOpfsScratchTarget(options: { syncAccess: boolean }): OutputTarget {
  return lazyTarget(async () =>
    createDirectoryTarget({
      stagingParent: await opfsRoot(),
      syncAccess: options.syncAccess,
      destination: () => Promise.reject(new Error('a scratch target is never committed')),
    }),
  );
}

/** Deletes every output kept in OPFS and any abandoned staging folder. */
export async function clearOpfsOutputs(): Promise<void> {
  const root = await opfsRoot();
  await root.removeEntry(OPFS_OUTPUTS, { recursive: true }).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  await removeAbandonedStaging(root);
}

/** Every path under the OPFS root, folders with a trailing slash (for tests and diagnostics). */
export async function listOpfs(dir?: FileSystemDirectoryHandle, prefix = ''): Promise<string[]> {
  const root = dir ?? (await opfsRoot());
  const out: string[] = [];
  for await (const [name, handle] of entriesOf(root)) {
    if (handle.kind === 'directory') {
      out.push(
        `${prefix}${name}/`,
        ...(await listOpfs(handle as FileSystemDirectoryHandle, `${prefix}${name}/`)),
      );
    } else {
      out.push(prefix + name);
    }
  }
  return out.sort();
}
