/**
 * Browser storage (OPFS) shares the site's quota. A 2B model is ~10 GB as float32: better to say up
 * front that it will not fit than to fail at 80 %. The latest run's outputs count as free, since a
 * successful conversion replaces them.
 */
import { EnvironmentError } from '../core/errors.ts';
import { entriesOf } from '../platform/browser/fs-handles.ts';
import { OPFS_OUTPUTS, opfsRoot } from '../platform/browser/opfs.ts';

/** Room for the staging of a probe model and the copied files, on top of the planned outputs. */
const HEADROOM_BYTES = 1e9;

/**
 * `needed`: the planned output's bytes (src/core/convert/output-plan.ts). `what` names it in the message.
 * `outputsFree`: whether the outputs kept now count as free (a conversion replaces them; a zip of them
 * does not).
 */
export async function checkStorageRoom(
  needed: number,
  options: { what?: string; outputsFree?: boolean; hint?: string } = {},
): Promise<void> {
  const estimate = await globalThis.navigator?.storage?.estimate?.();
  if (!estimate?.quota) return;
  const kept = options.outputsFree === false ? 0 : await storedOutputBytes();
  const free = estimate.quota - (estimate.usage ?? 0) + kept;
  if (needed + Math.min(HEADROOM_BYTES, needed) > free) {
    const gb = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.ceil(n / 1e6)} MB`);
    throw new EnvironmentError(
      `not enough browser storage for ${options.what ?? 'the output'}: it needs ${gb(needed)}, this site may use ${gb(free)}`,
      {
        hint:
          options.hint ??
          'Choose “Straight into a folder on this computer”, pick a smaller weight format, or free disk space.',
      },
    );
  }
}

async function storedOutputBytes(): Promise<number> {
  try {
    return await folderBytes(await (await opfsRoot()).getDirectoryHandle(OPFS_OUTPUTS));
  } catch {
    return 0;
  }
}

async function folderBytes(dir: FileSystemDirectoryHandle): Promise<number> {
  let total = 0;
  for await (const [, handle] of entriesOf(dir)) {
    total +=
      handle.kind === 'file'
        ? (await (handle as FileSystemFileHandle).getFile()).size
        : await folderBytes(handle as FileSystemDirectoryHandle);
  }
  return total;
}
