/**
 * One conversion as a person asks for it: a layout and its formats, written into one OutputTarget and
 * committed together. Both front ends call this (the CLI for `--output` and `--output-dir`, the tab's
 * worker for both layouts), so what lands on disk is decided here and only here.
 */
import { throwIfAborted } from '../errors.ts';
import type { FormatOptions } from '../formats/registry.ts';
import { convertModel, type ConvertRequest, type InspectedModel, type VerifyStep } from './convert.ts';
import { copyThrough } from './copy-through.ts';
import { convertModelFolder, dataFilesOf, type FolderModel } from './model-folder.ts';
import {
  checkOutputRequest,
  requestCopiedNames,
  requestModelFile,
  type OutputRequest,
} from './output-plan.ts';

export interface ConvertOutputRequest
  extends
    OutputRequest,
    Pick<
      ConvertRequest,
      'input' | 'target' | 'kernels' | 'configText' | 'signal' | 'onProgress' | 'inspected'
    > {
  /** The checks to run on each written model before anything is committed. */
  verify?: (format: FormatOptions) => VerifyStep | undefined;
}

export interface ConvertOutputResult {
  /** Every file written, in the order written (the plan's order). */
  files: { name: string; bytes: number }[];
  models: FolderModel[];
  /** Input files copied unchanged. */
  copied: string[];
  seconds: number;
  inspected: InspectedModel;
}

export async function convertOutput(req: ConvertOutputRequest): Promise<ConvertOutputResult> {
  checkOutputRequest(req);
  if (req.layout === 'folder') return convertModelFolder(req);
  const started = Date.now();
  try {
    const format = req.formats[0];
    const modelFile = requestModelFile(req, format);
    const result = await convertModel({
      ...req,
      format,
      modelFile,
      verify: req.verify?.(format),
      commit: false,
    });
    const copied = await copyThrough(
      req.input,
      req.target,
      requestCopiedNames(req, req.input.list()),
      req.signal,
    );
    throwIfAborted(req.signal);
    await req.target.commit();
    return {
      files: [...result.files, ...copied],
      models: [{ format, modelFile, dataFiles: dataFilesOf(modelFile, result.files) }],
      copied: copied.map((f) => f.name),
      seconds: (Date.now() - started) / 1000,
      inspected: result.inspected,
    };
  } catch (error) {
    // The first failure is the one to report, not a discard that failed after it.
    await req.target.discard().catch(() => {});
    throw error;
  }
}
