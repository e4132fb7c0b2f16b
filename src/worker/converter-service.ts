/**
 * What the worker does, as a plain class (comlink exposes it; tests can call it directly): wire the
 * browser adapters, the WASM kernels and onnxruntime-web into the engine, and report in terms the
 * page can show. The engine itself runs unchanged.
 */
import { defaultFormat, modelFileName, type FormatOptions } from '../core/formats/registry.ts';
import type { RuntimeCheckReport } from '../core/check/runtime-check.ts';
import { runtimeVerify } from '../core/check/verify.ts';
import { convertModel, inspectModel, type VerifyStep } from '../core/convert/convert.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';
import { ConversionAborted } from '../core/errors.ts';
import type { InputFiles, OutputTarget } from '../core/io/bytes.ts';
import type { Kernels } from '../core/kernels/kernels.ts';
import { dataFileName } from '../core/onnx/layout.ts';
import {
  createDirectoryTarget,
  removeAbandonedStaging,
  type DirectoryTarget,
} from '../platform/browser/directory-target.ts';
import { resolveParent, splitName } from '../platform/browser/fs-handles.ts';
import { browserInputFiles } from '../platform/browser/input-files.ts';
import {
  clearOpfsOutputs,
  createOpfsScratchTarget,
  createOpfsTarget,
  listOpfs,
  opfsRoot,
} from '../platform/browser/opfs.ts';
import { openWebSession } from '../runtime/ort-web.ts';
import type {
  ConvertOptions,
  ConvertOutcome,
  ConverterApi,
  Destination,
  FormatChoice,
  InputFile,
  InspectOutcome,
  OutputFile,
} from './api.ts';
import { copyThrough } from './copy-through.ts';
import { loadKernels } from './load-kernels.ts';
import { describeProblem } from './problems.ts';
import { checkStorageRoom } from './storage-room.ts';
import { summarise } from './summary.ts';
import { throttleProgress } from './throttle.ts';

export class ConverterService implements ConverterApi {
  private job?: AbortController;
  /** The OPFS folder of the latest committed run, for downloads. */
  private outputs?: FileSystemDirectoryHandle;

  async inspect(files: InputFile[]): Promise<InspectOutcome> {
    try {
      const input = browserInputFiles(files);
      const inspected = await inspectModel(input);
      return { ok: true, summary: summarise(inspected, input.list()) };
    } catch (e) {
      return { ok: false, problem: describeProblem(e) };
    }
  }

  async convert(
    files: InputFile[],
    options: ConvertOptions,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<ConvertOutcome> {
    if (this.job) throw new Error('a conversion is already running in this worker');
    const abort = new AbortController();
    this.job = abort;
    const emit = throttleProgress(onProgress);
    const started = performance.now();
    const format = resolveFormat(options.format);
    let written: OutputFile[] = [];
    let writeSeconds = 0;
    let runtime: { report: RuntimeCheckReport; scope: 'model' | 'probe' } | undefined;
    let copied: OutputFile[] = [];
    const listener = (e: ProgressEvent) => {
      if (e.status === 'written' && written.length === 0) {
        written = e.files;
        writeSeconds = e.seconds;
      }
      emit(e);
    };
    try {
      const kernels = await loadKernels();
      emit({ status: 'log', level: 'info', message: `kernels: ${kernels.name}` });
      const input = browserInputFiles(files);
      if (options.destination.kind === 'opfs') await checkStorageRoom(input, format, options.external);
      const target = await this.createTarget(options.destination);
      const check = options.runtimeCheck
        ? runtimeCheck(
            kernels,
            format,
            listener,
            abort.signal,
            (report, scope) => (runtime = { report, scope }),
          )
        : undefined;
      const verify: VerifyStep = async (ctx) => {
        await check?.(ctx);
        copied = await copyFiles(input, ctx.target, abort.signal);
      };
      await convertModel({
        input,
        target,
        kernels,
        modelFile: modelFileName(format.weights),
        format,
        external: options.external,
        signal: abort.signal,
        onProgress: listener,
        verify,
      });
      if (options.destination.kind === 'opfs') this.outputs = target.committedTo();
      return {
        ok: true,
        summary: {
          files: [...written, ...copied],
          writeSeconds,
          totalSeconds: (performance.now() - started) / 1000,
          bytesWritten: written.reduce((n, f) => n + f.bytes, 0),
          destination: options.destination.kind,
          folderName: options.destination.kind === 'folder' ? options.destination.handle.name : undefined,
          format,
          runtime: runtime?.report,
          runtimeScope: runtime?.scope,
          kernels: kernels.name,
        },
      };
    } catch (e) {
      if (e instanceof ConversionAborted || abort.signal.aborted) return { ok: false, cancelled: true };
      const problem = describeProblem(e);
      // A bug report needs the stack; a user's bad file needs only the message the page shows.
      if (problem.kind === 'internal') {
        emit({ status: 'log', level: 'warn', message: (e as Error)?.stack ?? String(e) });
      }
      return { ok: false, cancelled: false, problem };
    } finally {
      emit.flush();
      this.job = undefined;
    }
  }

  cancel(): void {
    this.job?.abort();
  }

  async outputFile(name: string): Promise<File | undefined> {
    if (!this.outputs) return undefined;
    try {
      const [dirs, base] = splitName(name);
      const dir = await resolveParent(this.outputs, dirs, false);
      return await (await dir.getFileHandle(base)).getFile();
    } catch {
      return undefined;
    }
  }

  /** OPFS always (probes are staged there whatever the destination), and the picked folder if any. */
  async removeAbandoned(folder?: FileSystemDirectoryHandle): Promise<string[]> {
    const removed = await removeAbandonedStaging(await opfsRoot());
    if (folder) removed.push(...(await removeAbandonedStaging(folder)));
    return removed;
  }

  async clearOutputs(): Promise<void> {
    this.outputs = undefined;
    await clearOpfsOutputs();
  }

  listStorage(): Promise<string[]> {
    return listOpfs();
  }

  private createTarget(destination: Destination): Promise<DirectoryTarget> {
    if (destination.kind === 'opfs') return createOpfsTarget({ syncAccess: canUseSyncAccess() });
    return createDirectoryTarget({
      destination: destination.handle,
      stagingParent: destination.handle,
      syncAccess: false,
    });
  }
}

function resolveFormat(choice: FormatChoice): FormatOptions {
  const base = defaultFormat(choice.weights, choice.head);
  return {
    weights: choice.weights,
    embed: choice.embed ?? base.embed,
    blockSize: choice.blockSize ?? base.blockSize,
    head: base.head,
  };
}

/** The engine's runtime check with onnxruntime-web as the runtime and OPFS as the probe's scratch space. */
function runtimeCheck(
  kernels: Kernels,
  format: FormatOptions,
  onProgress: (e: ProgressEvent) => void,
  signal: AbortSignal,
  onReport: (report: RuntimeCheckReport, scope: 'model' | 'probe') => void,
): VerifyStep {
  const verify = runtimeVerify({
    kernels,
    format,
    onProgress,
    signal,
    onReport,
    scratchTarget: () => createOpfsScratchTarget({ syncAccess: canUseSyncAccess() }),
    openSession: async (target, modelFile) => {
      const open = (name: string) => target.open(name);
      return openWebSession({ open, modelFile, dataFiles: await dataFilesOf(open, modelFile) });
    },
  });
  return async (ctx) => {
    onProgress({
      status: 'log',
      level: 'info',
      message: 'running the model in onnxruntime-web (WASM, 1 thread)…',
    });
    await verify(ctx);
  };
}

/** External data files follow the writer's naming (`model.onnx_data`, `model.onnx_data_1`, …). */
async function dataFilesOf(open: (name: string) => Promise<unknown>, modelFile: string): Promise<string[]> {
  const names: string[] = [];
  while (await open(dataFileName(modelFile, names.length))) names.push(dataFileName(modelFile, names.length));
  return names;
}

async function copyFiles(
  input: InputFiles,
  target: OutputTarget,
  signal: AbortSignal,
): Promise<OutputFile[]> {
  const names = await copyThrough(input, target, signal);
  const out: OutputFile[] = [];
  for (const name of names) out.push({ name, bytes: (await input.open(name))?.size ?? 0 });
  return out;
}

/** Sync access handles exist only in dedicated workers (and not in every browser's OPFS). */
function canUseSyncAccess(): boolean {
  const scope = globalThis as unknown as { FileSystemSyncAccessHandle?: unknown; document?: unknown };
  return typeof scope.FileSystemSyncAccessHandle === 'function' && scope.document === undefined;
}
