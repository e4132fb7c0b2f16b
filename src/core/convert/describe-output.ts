/**
 * The summary before converting, as lines of text: what was loaded and every file a request would write,
 * with its size. The CLI's `--dry-run` prints it; the tab shows the same ModelSummary and OutputPlan as
 * a table and a file list.
 */
import { describeFormat } from '../formats/registry.ts';
import type { ModelSummary } from './model-summary.ts';
import type { OutputPlan, PlannedFile } from './output-plan.ts';

const ROLE: Record<PlannedFile['role'], string> = {
  model: 'model',
  data: 'external data',
  config: 'written',
  copied: 'copied from the input',
};

/** Decimal units, as file managers show them. */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

export function describeOutput(
  summary: ModelSummary,
  plan: OutputPlan,
  where: string,
  options: { runtimeCheck?: boolean } = {},
): string[] {
  const s = summary;
  const checkpoint =
    s.checkpointFiles.length === 1 ? s.checkpointFiles[0] : `${s.checkpointFiles.length} shards`;
  const lines = [
    `input: ${checkpoint}, ${formatSize(s.inputBytes)} of tensors, ${s.tensorCount} tensors (${s.usedTensorCount} used)`,
    `model: ${s.variant}, vocab ${s.vocabSize}, context ${s.maxPositions}, hidden ${s.hiddenSize}, ` +
      `${s.numLayers} layers, FFN ${s.intermediateSize}, heads ${s.numHeads}/${s.numKvHeads} kv, ` +
      `head_dim ${s.headDim}, ${s.tiedEmbeddings ? 'tied' : 'untied'} head`,
    ...s.notes.map((n) => `note: ${n}`),
    `layout: ${plan.layout === 'folder' ? 'model folder' : 'single model file'} → ${where}`,
    ...plan.formats.map(
      (f, i) => `format: ${describeFormat(f)}${plan.formats.length > 1 && i === 0 ? ' (the default)' : ''}`,
    ),
    `would write ${plan.files.length} file${plan.files.length === 1 ? '' : 's'}, ${formatSize(plan.totalBytes)}:`,
  ];
  const width = Math.max(...plan.files.map((f) => f.name.length));
  for (const f of plan.files) {
    lines.push(`  ${f.name.padEnd(width)}  ${formatSize(f.bytes).padStart(9)}  ${ROLE[f.role]}`);
  }
  lines.push(
    options.runtimeCheck === false
      ? 'check: structure only (the onnxruntime check is off)'
      : plan.check.mode === 'full'
        ? 'check: structure, then onnxruntime against the reference forward pass'
        : `check: structure, then onnxruntime on a probe: ${plan.check.reason}`,
  );
  return lines;
}
