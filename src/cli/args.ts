import { parseArgs } from 'node:util';
import {
  BLOCK_SIZES,
  defaultFormat,
  FORMAT_IDS,
  formatModule,
  HEAD_MODES,
  isWeightFormat,
  type FormatOptions,
  type HeadMode,
} from '../core/formats/registry.ts';

export interface CliOptions {
  input: string;
  /** The .onnx file to write (single model); exactly one of output and outputDir is set. */
  output?: string;
  /** The model folder to write (one model per format, configs, tokenizer). */
  outputDir?: string;
  verbose: boolean;
  config?: string;
  /** The first (with --output: the only) entry of `formats`. */
  format: FormatOptions;
  formats: FormatOptions[];
  check: boolean;
  external: 'auto' | 'always' | 'never';
  /** Things to tell the user about the flags (e.g. a flag that is no longer needed). */
  notes: string[];
  /** Print the stack trace with an error. */
  debug: boolean;
  /** Inspect and print what would be written; write nothing. */
  dryRun: boolean;
}

const FORMAT_HELP = FORMAT_IDS.map(
  (id) => `                              ${id}: ${formatModule(id).summary}`,
).join('\n');

export const HELP = `bitnet2onnx — convert a BitNet b1.58 checkpoint (.safetensors) to ONNX (opset 17)

Usage:
  bitnet2onnx app [--port <n>] [--open]   serve the web app on http://127.0.0.1 (see app --help)
  bitnet2onnx --input <model.safetensors | model.safetensors.index.json | model dir> --output <out/model.onnx> [options]
  bitnet2onnx --input <…> --output-dir <out/folder> [--format fp32,int8,int2] [options]

Options:
  -i, --input <path>        checkpoint file, sharded index, or model folder
  -o, --output <path>       ONNX file to write (external data, if any, goes beside it)
      --output-dir <dir>    write a model folder that transformers.js and onnxruntime-genai load:
                              onnx/model{,_int8,_q2}.onnx (one per --format), config.json,
                              generation_config.json, genai_config.json and the input's tokenizer files;
                              committed only when every model passed its checks
  -v, --verbose             log each tensor as it is written
      --config <file>       config.json to use (default: the one beside the input)
      --format <f>          fp32 | int8 | int2 (default fp32); with --output-dir a comma list, e.g.
                              int2,int8 (the first is the folder's default for both loaders); all exact:
${FORMAT_HELP}
      --head <h>            exact | q8 | q4: how int8/int2 compute the logits (default exact)
                              exact: float product against the exact table, every logit exact
                              q8: 8-bit copy of the head, its top 64 candidates re-scored exactly (greedy
                                  and top-k choices exact, other logits approximate); faster, smaller RAM
                              q4: the same with a 4-bit copy: faster again, coarser other logits
      --embed <s>           fp32 | fp16 storage of the embedding table (default fp32, fp16 with q8 or q4;
                              fp16 is exact for bf16 values in its range, and the log says how many were not;
                              an fp16 table with the exact head is cast to float32 when it runs)
      --block-size <n>      int2 block size along K: 16, 32, 64, 128 or 256 (default 128)
      --exact               accepted for compatibility and ignored: int2 is exact by default
      --external-data <m>   auto | always | never  (auto: external above 1 GiB — onnxruntime-web cannot
                              load larger inline models — and always below the 2 GiB protobuf limit)
      --no-check            skip the onnxruntime check (structural validation still runs)
      --dry-run             read the checkpoint's headers and config, print what was loaded and every
                              file that would be written with its size, the formats and the check; write
                              nothing (the same summary the web app shows before converting)
      --debug               print the stack trace with an error message
  -h, --help                show this help
      --version             print the version

Exit codes: 0 written and checked; 1 bad input; 2 bad usage; 3 environment (a path, permission, full
disk, missing kernels or onnxruntime); 4 the written model failed a check; 130 cancelled; 70 internal
error (a bug). On any failure nothing is left behind.`;

export class UsageError extends Error {}

export function parseCli(argv: string[]): CliOptions | 'help' | 'version' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        input: { type: 'string', short: 'i' },
        output: { type: 'string', short: 'o' },
        'output-dir': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
        config: { type: 'string' },
        format: { type: 'string', default: 'fp32' },
        embed: { type: 'string' },
        'block-size': { type: 'string', default: '128' },
        exact: { type: 'boolean', default: false },
        head: { type: 'string', default: 'exact' },
        'external-data': { type: 'string', default: 'auto' },
        'no-check': { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';
  if (!values.input) throw new UsageError('missing --input (the .safetensors file, index or model folder)');
  const outputDir = values['output-dir'];
  if (values.output && outputDir) throw new UsageError('give either --output or --output-dir, not both');
  if (!values.output && !outputDir) {
    throw new UsageError('missing --output (the .onnx file to write) or --output-dir (a model folder)');
  }
  const names = values.format.split(',').map((f) => f.trim());
  for (const name of names) {
    if (!isWeightFormat(name)) {
      throw new UsageError(`unknown --format ${name}: expected ${FORMAT_IDS.join(', ')}`);
    }
  }
  if (new Set(names).size !== names.length)
    throw new UsageError(`--format ${values.format} repeats a format`);
  if (names.length > 1 && !outputDir) {
    throw new UsageError(`--format ${values.format} lists several formats: that needs --output-dir`);
  }
  if (values.embed !== undefined && values.embed !== 'fp32' && values.embed !== 'fp16') {
    throw new UsageError(`unknown --embed ${values.embed}: expected fp32 or fp16`);
  }
  const blockSize = Number(values['block-size']);
  if (!(BLOCK_SIZES as readonly number[]).includes(blockSize)) {
    throw new UsageError(
      `unsupported --block-size ${values['block-size']}: expected ${BLOCK_SIZES.join(', ')}`,
    );
  }
  const head = values.head as HeadMode;
  if (!HEAD_MODES.includes(head))
    throw new UsageError(`unknown --head ${values.head}: expected ${HEAD_MODES.join(', ')}`);
  const formats = names.map((name) => {
    if (!isWeightFormat(name)) throw new UsageError(`unknown --format ${name}`);
    if (head !== 'exact' && formatModule(name).graphStyle === 'portable') {
      throw new UsageError(
        `--head ${head} needs a compact format (int8 or int2); ${name} stays plain opset 17`,
      );
    }
    const format = defaultFormat(name, head);
    if (values.embed !== undefined) format.embed = values.embed as FormatOptions['embed'];
    format.blockSize = blockSize;
    return format;
  });
  const notes = values.exact ? ['--exact is no longer needed: int2 is exact by default (flag ignored)'] : [];
  const external = values['external-data'];
  if (external !== 'auto' && external !== 'always' && external !== 'never') {
    throw new UsageError(`unknown --external-data ${external}: expected auto, always or never`);
  }
  return {
    input: values.input,
    output: values.output,
    outputDir,
    verbose: values.verbose,
    config: values.config,
    format: formats[0],
    formats,
    check: !values['no-check'],
    external,
    notes,
    debug: values.debug,
    dryRun: values['dry-run'],
  };
}

export const APP_HELP = `bitnet2onnx app — serve the bitnet2onnx web app from this installation

Usage:
  bitnet2onnx app [--port <n>] [--open]

Serves the built web app on http://127.0.0.1 only (nothing is reachable from other machines), with the
page's Content-Security-Policy also sent as a header. The page converts in the browser tab; nothing is
uploaded. Stop with Ctrl+C.

Options:
      --port <n>            port to listen on (default 4173; 0 picks a free one)
      --open                open the page in the default browser
  -h, --help                show this help`;

export interface AppOptions {
  port: number;
  open: boolean;
}

export function parseAppCli(argv: string[]): AppOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '4173' },
        open: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new UsageError(`bad --port ${values.port}: expected a number from 0 to 65535`);
  }
  return { port, open: values.open };
}
