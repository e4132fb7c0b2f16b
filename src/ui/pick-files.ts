/**
 * Turns what the browser hands over — an <input type=file> selection, a dropped set of files or
 * folders, or the bundled sample — into the worker's InputFile list. Only File references move;
 * no bytes are read here.
 */
import type { InputFile } from '../worker/api.ts';
import type { LoadedModel } from './app-state.svelte.ts';

/** Files from a file input (`webkitRelativePath` is set when a folder was picked). */
export function filesFromInput(list: FileList | readonly File[]): InputFile[] {
  return Array.from(list, (file) => ({ path: file.webkitRelativePath || file.name, blob: file }));
}

export function describeSelection(files: readonly InputFile[]): string {
  if (files.length === 1) return files[0].path;
  const top = files[0]?.path.split('/')[0];
  const sameFolder = top && files.every((f) => f.path.includes('/') && f.path.split('/')[0] === top);
  if (sameFolder) return `${top}/ (${files.length} files)`;
  const names = files.map((f) => f.path).sort();
  return names.length <= 4
    ? names.join(', ')
    : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/**
 * Dropped items, folders walked recursively. Entries must be taken from the DataTransfer during the
 * drop event itself (it is emptied afterwards), so call this synchronously from the handler.
 */
export function filesFromDrop(transfer: DataTransfer): Promise<InputFile[]> {
  const entries = Array.from(transfer.items)
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.length > 0 && entries.every((e) => e !== null)) {
    return Promise.all(entries.map((e) => walkEntry(e!, ''))).then((lists) => lists.flat());
  }
  // Browsers without entries still give the plain files (no folders).
  return Promise.resolve(filesFromInput(transfer.files));
}

async function walkEntry(entry: FileSystemEntry, prefix: string): Promise<InputFile[]> {
  const path = prefix + entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) =>
      (entry as FileSystemFileEntry).file(resolve, reject),
    );
    return [{ path, blob: file }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  // readEntries returns at most ~100 entries per call; an empty batch means the listing is complete.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) break;
    children.push(...batch);
  }
  const nested = await Promise.all(children.map((c) => walkEntry(c, `${path}/`)));
  return nested.flat();
}

/** The bundled sample (made by scripts/make-sample.ts at build time), fetched from this origin only. */
export async function loadSampleModel(base = document.baseURI): Promise<LoadedModel> {
  const indexUrl = new URL('sample/index.json', base);
  const index = (await fetchOk(indexUrl)).json() as Promise<{
    label: string;
    files: string[];
    prompt?: string;
  }>;
  const { label, files, prompt } = await index;
  const loaded = await Promise.all(
    files.map(async (name) => ({
      path: `sample/${name}`,
      blob: new File([await (await fetchOk(new URL(name, indexUrl))).blob()], name),
    })),
  );
  return { label, files: loaded, prompt };
}

async function fetchOk(url: URL): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url.pathname}: HTTP ${response.status}`);
  return response;
}
