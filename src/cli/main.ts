import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { convertModel } from '../core/convert/convert.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';
import { ConversionAborted, ConversionError } from '../core/errors.ts';
import { runtimeVerify } from '../core/check/verify.ts';
import { loadNodeKernels } from '../platform/node/load-kernels.ts';
import { createNodeOutputTarget, openNodeInput, type NodeInputFiles } from '../platform/node/node-files.ts';
import { openNodeSession } from '../runtime/ort-node.ts';
import { HELP, parseCli, UsageError, type CliOptions } from './args.ts';
import { ProgressBar } from './progress-bar.ts';

export async function main(argv: string[]): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bitnet2onnx: ${e.message}\nRun with --help for usage.`);
    return 2;
  }
  if (options === 'help') {
    console.log(HELP);
    return 0;
  }
  return convert(options);
}

async function convert(options: CliOptions): Promise<number> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = process.stderr.isTTY ? new ProgressBar(process.stderr) : undefined;
  const log = (line: string) => {
    bar?.clear();
    console.error(line);
  };
  const onProgress = (e: ProgressEvent) => {
    switch (e.status) {
      case 'log':
        if (e.level !== 'verbose' || options.verbose)
          log(e.level === 'warn' ? `note: ${e.message}` : e.message);
        break;
      case 'tensor':
        bar?.update(e);
        break;
      case 'written':
        log(
          `wrote ${e.files.map((f) => `${f.name} (${(f.bytes / 1e6).toFixed(1)} MB)`).join(', ')} in ${e.seconds.toFixed(1)} s`,
        );
        break;
      case 'check':
        log(`check ${e.name}: ${e.ok ? 'ok' : 'FAILED'} — ${e.message}`);
        break;
      case 'plan':
        if (options.verbose)
          log(`${e.tensors} initializers, ${(e.bytesTotal / 1e6).toFixed(1)} MB → ${e.files.join(', ')}`);
        break;
    }
  };

  const target = createNodeOutputTarget(options.output);
  let input: NodeInputFiles | undefined;
  try {
    const kernels = await loadNodeKernels();
    input = await openNodeInput(options.input);
    const configText = options.config ? await readConfig(options.config) : undefined;
    const result = await convertModel({
      input,
      target,
      kernels,
      modelFile: basename(options.output),
      format: options.format,
      configText,
      external: options.external,
      signal: abort.signal,
      onProgress,
      verify: options.check
        ? runtimeVerify({
            kernels,
            onProgress,
            approximate: options.format.weights === 'int2' && !options.format.exact,
            openSession: (_t, modelFile) => openNodeSession(target.stagedPath(modelFile)),
          })
        : undefined,
    });
    log(`done: ${options.output} (${result.files.length} file${result.files.length > 1 ? 's' : ''})`);
    return 0;
  } catch (e) {
    bar?.clear();
    if (e instanceof ConversionAborted) {
      console.error('bitnet2onnx: cancelled; nothing was written');
      return 130;
    }
    if (e instanceof ConversionError) {
      console.error(`bitnet2onnx: ${e.message}`);
      return 1;
    }
    console.error(`bitnet2onnx: internal error: ${(e as Error).stack ?? String(e)}`);
    return 70;
  } finally {
    await input?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function readConfig(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ConversionError(
      `cannot read config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { file: path },
    );
  }
}
