/**
 * The engine's errors already name the file, the tensor and what was expected. What a person also
 * needs is what to do next; that depends on the kind of problem, recognised here by its wording.
 */
import { ConversionError, EnvironmentError } from '../core/errors.ts';
import type { Problem } from './api.ts';

const HINTS: [RegExp, string][] = [
  [
    /no safetensors checkpoint found|not a safetensors checkpoint/,
    'Pick the model’s .safetensors file, or the whole model folder.',
  ],
  [
    /cannot tell which safetensors file/,
    'Pick the folder with its model.safetensors.index.json, or a single .safetensors file.',
  ],
  [
    /shard listed in the index is missing|not in its shard/,
    'Pick the whole model folder so every shard comes along.',
  ],
  [
    /missing (\d+ )?tensors?/,
    'This is not a complete BitNet b1.58 checkpoint. For a sharded model, include every shard and the index.',
  ],
  [
    /corrupt packed weight|code 3/,
    'The weights in this checkpoint are damaged (an impossible ternary code): download the file again.',
  ],
  [/unsupported architecture/, 'This tool converts BitNet b1.58 models only (model_type "bitnet").'],
  [/invalid JSON|not a JSON object/, 'The JSON file is damaged: download it again from the model’s page.'],
  [
    /safetensors|header|truncated|shorter than|ended inside/,
    'The file is not a complete safetensors checkpoint: download it again, then pick it here.',
  ],
  [/cannot read the file/, 'The file changed or moved after it was picked: pick it again.'],
  [
    /shape does not match|unexpected dtype|inconsistent|contradicts|invalid \w+|cannot determine/,
    'config.json and the weights disagree: use the config.json published with this checkpoint.',
  ],
];

export function describeProblem(error: unknown): Problem {
  // Something about the browser or the machine, not the files, stands in the way; with what to do.
  if (error instanceof EnvironmentError)
    return { kind: 'environment', message: error.problem, hint: error.details.hint };
  if (error instanceof ConversionError) {
    const hint = HINTS.find(([re]) => re.test(error.message))?.[1];
    return {
      kind: 'input',
      message: error.message,
      hint: hint ?? 'Check that you picked the original checkpoint files.',
    };
  }
  const e = error as Error | undefined;
  if (e?.name === 'NotAllowedError' || e?.name === 'SecurityError') {
    return {
      kind: 'environment',
      message: `the browser refused access (${e.message})`,
      hint: 'Allow the page to use the folder when asked, or keep the output in browser storage instead.',
    };
  }
  if (e?.name === 'QuotaExceededError') {
    return {
      kind: 'environment',
      message: 'the browser’s storage quota is exhausted',
      hint: 'Free disk space, clear stored outputs, or convert into a folder you pick.',
    };
  }
  return {
    kind: 'internal',
    message: e?.message ? `${e.name ?? 'Error'}: ${e.message}` : String(error),
    hint: 'This is a bug in bitnet2onnx, not in your files. The log has the details; please report it.',
  };
}
