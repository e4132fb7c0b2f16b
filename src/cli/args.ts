import { parseArgs } from 'node:util';
import { defaultFormat, type FormatOptions, type WeightFormat } from '../core/bitnet/format.ts';

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
}

export const HELP = `bitnet2onnx — convert a BitNet b1.58 checkpoint (.safetensors) to ONNX (opset 17)

Usage:
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
                              int2,int8 (the first is the folder's default for both loaders)
                              fp32: ternary values as float32, one Gemm per projection, scale after it (exact)
                              int8: ternary int8 weights, MatMulInteger (standard ONNX, exact)
                              int2: 2-bit weights, com.microsoft MatMulNBits (onnxruntime; fast, approximate
                                    unless --exact)
      --embed <s>           fp32 | fp16 storage of the embedding/head (default: fp32 for fp32, fp16 otherwise;
                              fp16 is exact for bf16 values in its range, and the log says how many were not)
      --block-size <n>      int2 block size along K: 16, 32, 64, 128 or 256 (default 128)
      --exact               int2: accuracy_level 0 (float arithmetic, exact, slow) instead of 4
                              (applies to the int2 entry of a --format list)
      --external-data <m>   auto | always | never  (auto: external above 1 GiB — onnxruntime-web cannot
                              load larger inline models — and always below the 2 GiB protobuf limit)
      --no-check            skip the onnxruntime check (structural validation still runs)
  -h, --help                show this help

Exit code 0 only when the model was written and passed its checks; on any failure nothing is left behind.`;

export class UsageError extends Error {}

export function parseCli(argv: string[]): CliOptions | 'help' {
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
        'external-data': { type: 'string', default: 'auto' },
        'no-check': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return 'help';
  if (!values.input) throw new UsageError('missing --input (the .safetensors file, index or model folder)');
  const outputDir = values['output-dir'];
  if (values.output && outputDir) throw new UsageError('give either --output or --output-dir, not both');
  if (!values.output && !outputDir) {
    throw new UsageError('missing --output (the .onnx file to write) or --output-dir (a model folder)');
  }
  const names = values.format.split(',').map((f) => f.trim());
  for (const name of names) {
    if (!['fp32', 'int8', 'int2'].includes(name)) {
      throw new UsageError(`unknown --format ${name}: expected fp32, int8 or int2`);
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
  if (![16, 32, 64, 128, 256].includes(blockSize)) {
    throw new UsageError(`unsupported --block-size ${values['block-size']}: expected 16, 32, 64, 128 or 256`);
  }
  if (values.exact && !names.includes('int2')) throw new UsageError('--exact applies to --format int2 only');
  const formats = names.map((name) => {
    const format = defaultFormat(name as WeightFormat);
    if (values.embed !== undefined) format.embed = values.embed as FormatOptions['embed'];
    format.blockSize = blockSize;
    format.exact = format.weights === 'int2' && values.exact;
    return format;
  });
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
  };
}
