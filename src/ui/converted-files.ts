/**
 * The files of the latest conversion as InputFiles for the generation worker: from browser storage
 * (OPFS, through the converter) or from the folder the person picked. Only File references move; they
 * are disk-backed, so nothing is copied here.
 */
import type { ConvertSummary, InputFile } from '../worker/api.ts';

export async function convertedFiles(
  result: ConvertSummary,
  fromStorage: (name: string) => Promise<File | undefined>,
  folder?: FileSystemDirectoryHandle,
): Promise<InputFile[]> {
  const files: InputFile[] = [];
  for (const { name } of result.files) {
    const file = folder ? await fromFolder(folder, name) : await fromStorage(name);
    if (!file) throw new Error(`${name} is no longer where the conversion put it; convert again`);
    files.push({ path: name, blob: file });
  }
  return files;
}

async function fromFolder(folder: FileSystemDirectoryHandle, name: string): Promise<File | undefined> {
  const parts = name.split('/');
  let dir = folder;
  try {
    for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part);
    return await (await dir.getFileHandle(parts[parts.length - 1])).getFile();
  } catch {
    return undefined;
  }
}
