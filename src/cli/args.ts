import { parseArgs } from 'node:util';

export interface CliOptions {
  input: string;
  output: string;
  verbose: boolean;
  config?: string;
  format: 'fp32';
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
      --format fp32         weight format (fp32: ternary values as float32, scales applied after each MatMul)
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
  if (values.format !== 'fp32') throw new UsageError(`unknown --format ${values.format}: expected fp32`);
  const external = values['external-data'];
  if (external !== 'auto' && external !== 'always' && external !== 'never') {
    throw new UsageError(`unknown --external-data ${external}: expected auto, always or never`);
  }
  return {
    input: values.input,
    output: values.output,
    verbose: values.verbose,
    config: values.config,
    format: 'fp32',
    check: !values['no-check'],
    external,
  };
}
