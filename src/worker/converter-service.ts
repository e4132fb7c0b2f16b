/**
 * What the worker does, as a plain class (comlink exposes it; tests can call it directly): wire the
 * browser adapters, the WASM kernels and onnxruntime-web into the engine, and report in terms the
 * page can show. The engine itself runs unchanged.
 */
import type { RuntimeCheckReport } from '../core/check/runtime-check.ts';
import { runtimeVerify } from '../core/check/verify.ts';
import { inspectModel, type InspectedModel, type VerifyStep } from '../core/convert/convert.ts';
import { convertOutput } from '../core/convert/convert-output.ts';
import { formatOptions } from '../core/convert/format-choice.ts';
import { summariseModel } from '../core/convert/model-summary.ts';
import { planOutput, type OutputRequest } from '../core/convert/output-plan.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';
import { ConversionAborted } from '../core/errors.ts';
import type { FormatOptions } from '../core/formats/registry.ts';
import type { InputFiles } from '../core/io/bytes.ts';
import type { Kernels } from '../core/kernels/kernels.ts';
import { dataFileName } from '../core/onnx/layout.ts';
import {
  createDirectoryTarget,
  removeAbandonedStaging,
  type DirectoryTarget,
} from '../platform/browser/directory-target.ts';
import { WritableStreamSink } from '../platform/browser/file-sinks.ts';
import { resolveParent, splitName } from '../platform/browser/fs-handles.ts';
import { browserInputFiles } from '../platform/browser/input-files.ts';
import {
  clearOpfsOutputs,
  createOpfsScratchTarget,
  createOpfsTarget,
  createOpfsZipTarget,
  listOpfs,
  opfsRoot,
} from '../platform/browser/opfs.ts';
import { openWebSession } from '../runtime/ort-web.ts';
import type {
  ConvertOptions,
  ConvertOutcome,
  ConverterApi,
  Destination,
  InputFile,
  InspectOutcome,
  OutputChoice,
  OutputFile,
  PlanOutcome,
  ZipDestination,
  ZipOutcome,
} from './api.ts';
import { loadKernels } from './load-kernels.ts';
import { describeProblem } from './problems.ts';
import { checkStorageRoom } from './storage-room.ts';
import { throttleProgress } from './throttle.ts';
import { writeZip, zipNameFor } from './zip-outputs.ts';

/** What the page last inspected, so planning its output does not read the headers again. */
interface Inspection {
  key: string;
  input: InputFiles;
  inspected: InspectedModel;
}

/** The latest committed run kept in OPFS, for downloads and "Download all". */
interface StoredRun {
  folder: FileSystemDirectoryHandle;
  files: string[];
  zipName: string;
}

export class ConverterService implements ConverterApi {
  private job?: AbortController;
  private outputs?: StoredRun;
  private inspection?: Inspection;

  async inspect(files: InputFile[]): Promise<InspectOutcome> {
    try {
      const input = browserInputFiles(files);
      const inspected = await inspectModel(input);
      this.inspection = { key: inputKey(files), input, inspected };
      return { ok: true, summary: summariseModel(inspected, input.list()) };
    } catch (e) {
      return { ok: false, problem: describeProblem(e) };
    }
  }

  async plan(files: InputFile[], choice: OutputChoice): Promise<PlanOutcome> {
    try {
      const key = inputKey(files);
      if (this.inspection?.key !== key) {
        const input = browserInputFiles(files);
        this.inspection = { key, input, inspected: await inspectModel(input) };
      }
      const { input, inspected } = this.inspection;
      return { ok: true, plan: await planOutput(inspected, input, outputRequest(choice)) };
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
    const request = outputRequest(options);
    let writeSeconds = 0;
    let runtime: { report: RuntimeCheckReport; scope: 'model' | 'probe' } | undefined;
    const listener = (e: ProgressEvent) => {
      if (e.status === 'written') writeSeconds += e.seconds;
      emit(e);
    };
    try {
      const kernels = await loadKernels();
      emit({ status: 'log', level: 'info', message: `kernels: ${kernels.name}` });
      const input = browserInputFiles(files);
      // The one reading of the headers for this conversion: planning, the room check and every format use it.
      const inspected = await inspectModel(input);
      const planned = await planOutput(inspected, input, request);
      if (options.destination.kind === 'opfs') await checkStorageRoom(planned.totalBytes);
      const target = await this.createTarget(options.destination);
      const verify = (format: FormatOptions): VerifyStep | undefined =>
        options.runtimeCheck
          ? runtimeCheck(kernels, format, listener, abort.signal, (report, scope) => {
              runtime ??= { report, scope };
            })
          : undefined;
      const result = await convertOutput({
        ...request,
        input,
        target,
        kernels,
        inspected,
        signal: abort.signal,
        onProgress: listener,
        verify,
      });
      const zipName = zipNameFor(files.map((f) => f.path));
      if (options.destination.kind === 'opfs') {
        this.outputs = { folder: target.committedTo()!, files: result.files.map((f) => f.name), zipName };
      }
      const written: OutputFile[] = result.files;
      const copied = new Set(result.copied);
      return {
        ok: true,
        summary: {
          files: written,
          writeSeconds,
          totalSeconds: (performance.now() - started) / 1000,
          bytesWritten: written.filter((f) => !copied.has(f.name)).reduce((n, f) => n + f.bytes, 0),
          destination: options.destination.kind,
          folderName: options.destination.kind === 'folder' ? options.destination.handle.name : undefined,
          layout: request.layout,
          formats: request.formats,
          zipName,
          runtime: runtime?.report,
          runtimeScope: runtime?.scope,
          runtimeFile: result.models[0]?.modelFile,
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

  async saveZip(to: ZipDestination): Promise<ZipOutcome> {
    const run = this.outputs;
    if (!run) {
      return {
        ok: false,
        cancelled: false,
        problem: {
          kind: 'environment',
          message: 'the converted files are no longer in browser storage',
          hint: 'Convert again, then download.',
        },
      };
    }
    if (this.job) throw new Error('a job is already running in this worker');
    const abort = new AbortController();
    this.job = abort;
    const entries = run.files.map((name) => ({
      name: `${run.zipName}/${name}`,
      file: async () => {
        const [dirs, base] = splitName(name);
        return (await (await resolveParent(run.folder, dirs, false)).getFileHandle(base)).getFile();
      },
    }));
    try {
      if (to.kind === 'file') {
        const sink = new WritableStreamSink(await to.handle.createWritable(), to.handle.name);
        await writeZip(entries, sink, abort.signal);
        return { ok: true };
      }
      let bytes = 0;
      for (const e of entries) bytes += (await e.file()).size;
      await checkStorageRoom(bytes, {
        what: 'the zip',
        outputsFree: false,
        hint: 'Download the files one by one instead, or free disk space.',
      });
      const target = await createOpfsZipTarget({ syncAccess: canUseSyncAccess() });
      try {
        const sink = await target.create(`${run.zipName}.zip`);
        await writeZip(entries, sink, abort.signal);
        await target.commit();
      } catch (e) {
        await target.discard().catch(() => {});
        throw e;
      }
      const zip = await (await target.committedTo()!.getFileHandle(`${run.zipName}.zip`)).getFile();
      return { ok: true, file: zip };
    } catch (e) {
      if (e instanceof ConversionAborted || abort.signal.aborted) return { ok: false, cancelled: true };
      return { ok: false, cancelled: false, problem: describeProblem(e) };
    } finally {
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
      const dir = await resolveParent(this.outputs.folder, dirs, false);
      return await (await dir.getFileHandle(base)).getFile();
    } catch {
      return undefined;
    }
  }

  /** OPFS always (probes are staged there whatever the destination), and the picked folder if any. */
  async removeAbandoned(folder?: FileSystemDirectoryHandle, waitMs = 0): Promise<string[]> {
    const removed = await removeAbandonedStaging(await opfsRoot(), waitMs);
    if (folder) removed.push(...(await removeAbandonedStaging(folder, waitMs)));
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

/** The page's choice as the engine's request: the same FormatOptions the CLI's flags make. */
function outputRequest(choice: OutputChoice): OutputRequest {
  return { layout: choice.layout, formats: choice.formats.map(formatOptions), external: choice.external };
}

/** Identifies a set of picked files well enough to reuse its inspection for planning (not converting). */
function inputKey(files: InputFile[]): string {
  return files.map((f) => `${f.path}\u0000${f.blob.size}`).join('\u0001');
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

/** Sync access handles exist only in dedicated workers (and not in every browser's OPFS). */
function canUseSyncAccess(): boolean {
  const scope = globalThis as unknown as { FileSystemSyncAccessHandle?: unknown; document?: unknown };
  return typeof scope.FileSystemSyncAccessHandle === 'function' && scope.document === undefined;
}
