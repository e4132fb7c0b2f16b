import { parseArgs } from 'node:util';
import { defaultFormat, type FormatOptions, type WeightFormat } from '../core/bitnet/format.ts';

export interface CliOptions {
  input: string;
  output: string;
  verbose: boolean;
  config?: string;
  format: FormatOptions;
  check: boolean;
  external: 'auto' | 'always' | 'never';
}

export const HELP = `bitnet2onnx — convert a BitNet b1.58 checkpoint (.safetensors) to ONNX (opset 17)

Usage:
  bitnet2onnx --input <model.safetensors | model.safetensors.index.json | model dir> --output <out/model.onnx> [options]

Options:
  -i, --input <path>        checkpoint file, sharded index, or model folder
  -o, --output <path>       ONNX file to write (external data, if any, goes beside it)
  -v, --verbose             log each tensor as it is written
      --config <file>       config.json to use (default: the one beside the input)
      --format <f>          fp32 | int8 | int2 (default fp32)
                              fp32: ternary values as float32, one Gemm per projection, scale after it (exact)
                              int8: ternary int8 weights, MatMulInteger (standard ONNX, exact)
                              int2: 2-bit weights, com.microsoft MatMulNBits (onnxruntime; fast, approximate
                                    unless --exact)
      --embed <s>           fp32 | fp16 storage of the embedding/head (default: fp32 for fp32, fp16 otherwise;
                              fp16 is exact for bf16 values in its range, and the log says how many were not)
      --block-size <n>      int2 block size along K: 16, 32, 64, 128 or 256 (default 128)
      --exact               int2: accuracy_level 0 (float arithmetic, exact, slow) instead of 4
      --external-data <m>   auto | always | never  (auto: external when the model exceeds the 2 GiB protobuf limit)
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
  if (!values.output) throw new UsageError('missing --output (the .onnx file to write)');
  if (!['fp32', 'int8', 'int2'].includes(values.format)) {
    throw new UsageError(`unknown --format ${values.format}: expected fp32, int8 or int2`);
  }
  const format = defaultFormat(values.format as WeightFormat);
  if (values.embed !== undefined) {
    if (values.embed !== 'fp32' && values.embed !== 'fp16')
      throw new UsageError(`unknown --embed ${values.embed}: expected fp32 or fp16`);
    format.embed = values.embed;
  }
  const blockSize = Number(values['block-size']);
  if (![16, 32, 64, 128, 256].includes(blockSize)) {
    throw new UsageError(`unsupported --block-size ${values['block-size']}: expected 16, 32, 64, 128 or 256`);
  }
  format.blockSize = blockSize;
  format.exact = values.exact;
  if (format.exact && format.weights !== 'int2')
    throw new UsageError('--exact applies to --format int2 only');
  const external = values['external-data'];
  if (external !== 'auto' && external !== 'always' && external !== 'never') {
    throw new UsageError(`unknown --external-data ${external}: expected auto, always or never`);
  }
  return {
    input: values.input,
    output: values.output,
    verbose: values.verbose,
    config: values.config,
    format,
    check: !values['no-check'],
    external,
  };
}
