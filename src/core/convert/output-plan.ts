/**
 * Every file a conversion will write, with its exact size, from the inspected model alone: no weight is
 * read or produced. The tab shows it before converting and checks storage room with it; the CLI's
 * `--dry-run` prints it (src/core/convert/describe-output.ts). Writing follows the same functions
 * (planDecoderFiles, modelFolderJson, copiedFileNames), so the plan and the written files agree.
 */
import type { CheckScope } from '../check/check-scope.ts';
import { runtimeCheckScope } from '../check/check-scope.ts';
import type { FormatOptions } from '../formats/registry.ts';
import type { InputFiles } from '../io/bytes.ts';
import type { InspectedModel } from './convert.ts';
import { copiedFileNames } from './copy-through.ts';
import {
  dataFilesOf,
  folderJsonBytes,
  modelFolderJson,
  readGenerationConfig,
  type FolderModel,
} from './model-folder.ts';
import { layoutModelFile, type OutputLayout } from './output-layout.ts';
import { planDecoderFiles } from './write-decoder.ts';

export type ExternalData = 'auto' | 'always' | 'never';

/** What to write: a layout and one (single) or several (folder) formats, the first being the default. */
export interface OutputRequest {
  layout: OutputLayout;
  formats: FormatOptions[];
  external: ExternalData;
  /**
   * single only: the `.onnx` name (default: the format's, e.g. `model_q2.onnx`), and whether the input's
   * config and tokenizer files go beside it (default true; the CLI's `--output` writes the model alone).
   */
  modelFile?: string;
  copyThrough?: boolean;
}

export interface PlannedFile {
  name: string;
  bytes: number;
  /** model: an `.onnx`; data: its external weights; config: JSON the converter writes; copied: from the input. */
  role: 'model' | 'data' | 'config' | 'copied';
}

export interface OutputPlan {
  layout: OutputLayout;
  formats: FormatOptions[];
  /** In the order they are written. */
  files: PlannedFile[];
  totalBytes: number;
  /** What the runtime check (when on) runs on. */
  check: CheckScope;
}

/** Rejects requests no front end should make (a programming error, not a user's). */
export function checkOutputRequest(req: OutputRequest): void {
  if (req.formats.length === 0) throw new Error('output: no formats requested');
  if (req.layout === 'single' && req.formats.length > 1) {
    throw new Error('output: a single model file holds one format; several need the folder layout');
  }
  const seen = new Set<string>();
  for (const f of req.formats) {
    if (seen.has(f.weights)) throw new Error(`output: format ${f.weights} requested twice`);
    seen.add(f.weights);
  }
}

/** The `.onnx` name each format gets under this request. */
export function requestModelFile(req: OutputRequest, format: FormatOptions): string {
  return req.layout === 'single' && req.modelFile
    ? req.modelFile
    : layoutModelFile(req.layout, format.weights);
}

/** Input files the request copies unchanged. */
export function requestCopiedNames(req: OutputRequest, inputNames: readonly string[]): string[] {
  return req.layout === 'single' && req.copyThrough === false ? [] : copiedFileNames(inputNames, req.layout);
}

/**
 * The files of a conversion, planned. Reads only small things beyond what inspection read: the input's
 * generation_config.json for a folder (a damaged one fails here, as it fails the conversion) and the
 * sizes of the files copied through.
 */
export async function planOutput(
  inspected: InspectedModel,
  input: InputFiles,
  req: OutputRequest,
): Promise<OutputPlan> {
  checkOutputRequest(req);
  const { plan, config } = inspected;
  const files: PlannedFile[] = [];
  const models: FolderModel[] = [];
  for (const format of req.formats) {
    const modelFile = requestModelFile(req, format);
    const written = planDecoderFiles({ plan, format, modelFile, external: req.external });
    for (const f of written) {
      files.push({ name: f.name, bytes: f.bytes, role: f.name === modelFile ? 'model' : 'data' });
    }
    models.push({ format, modelFile, dataFiles: dataFilesOf(modelFile, written) });
  }
  if (req.layout === 'folder') {
    const generationConfig = await readGenerationConfig(input);
    for (const { name, json } of modelFolderJson({ plan, config, generationConfig, models })) {
      files.push({ name, bytes: folderJsonBytes(json).length, role: 'config' });
    }
  }
  for (const name of requestCopiedNames(req, input.list())) {
    const source = await input.open(name);
    if (source) files.push({ name, bytes: source.size, role: 'copied' });
  }
  return {
    layout: req.layout,
    formats: req.formats,
    files,
    totalBytes: files.reduce((n, f) => n + f.bytes, 0),
    check: runtimeCheckScope(plan),
  };
}
