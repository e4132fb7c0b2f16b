/**
 * What the output looks like on disk, and what each file in it is called. Both front ends (the CLI's
 * `--output` / `--output-dir`, the tab's "single model file" / "model folder") name files through here.
 *
 *   folder   onnx/model{,_int8,_q2}.onnx (+ external data), config.json, generation_config.json,
 *            genai_config.json, the input's tokenizer files (src/core/convert/model-folder.ts)
 *   single   model{,_int8,_q2}.onnx (+ external data) and, in the tab, the input's config and tokenizer
 *            files beside it, unchanged
 */
import { modelFileName, type WeightFormat } from '../formats/registry.ts';

export type OutputLayout = 'folder' | 'single';

export const OUTPUT_LAYOUTS: readonly OutputLayout[] = ['folder', 'single'];

/** The configs a model folder gets, written by the converter (not copied), in the order they are written. */
export const FOLDER_JSON_FILES = ['config.json', 'generation_config.json', 'genai_config.json'] as const;

/** Where a format's model goes inside the folder: transformers.js looks in `onnx/` for `model{suffix}.onnx`. */
export function folderModelFile(weights: WeightFormat): string {
  return `onnx/${modelFileName(weights)}`;
}

/** The `.onnx` file of a format in a layout, relative to the output folder. */
export function layoutModelFile(layout: OutputLayout, weights: WeightFormat): string {
  return layout === 'folder' ? folderModelFile(weights) : modelFileName(weights);
}
