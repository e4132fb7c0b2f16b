import { readFile } from 'node:fs/promises';
import path, { basename } from 'node:path';
import { inspectModel } from '../core/convert/convert.ts';
import { convertOutput } from '../core/convert/convert-output.ts';
import { describeOutput } from '../core/convert/describe-output.ts';
import { summariseModel } from '../core/convert/model-summary.ts';
import { planOutput, type OutputRequest } from '../core/convert/output-plan.ts';
import type { FormatOptions } from '../core/formats/registry.ts';
import type { ProgressEvent } from '../core/convert/progress.ts';
import { ConversionAborted } from '../core/errors.ts';
import { runtimeVerify } from '../core/check/verify.ts';
import { loadNodeKernels } from '../platform/node/load-kernels.ts';
import {
  checkOutputLocation,
  createNodeOutputTarget,
  createNodeScratchTarget,
  openNodeInput,
  type NodeInputFiles,
  type NodeOutputTarget,
} from '../platform/node/node-files.ts';
import { openNodeSession } from '../runtime/ort-node.ts';
import { HELP, parseCli, UsageError, type CliOptions } from './args.ts';
import { exitCodeFor, reportError } from './report-error.ts';
import { fsError } from '../platform/node/fs-errors.ts';
import { ProgressBar } from './progress-bar.ts';
import { appCommand } from './serve-app.ts';
import { packageVersion } from './version.ts';

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'app') return appCommand(argv.slice(1));
  let options: CliOptions | 'help' | 'version';
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
  if (options === 'version') {
    console.log(packageVersion());
    return 0;
  }
  for (const note of options.notes) console.error(`note: ${note}`);
  return options.dryRun ? dryRun(options) : convert(options);
}

/** What `options` asks the engine for: `--output-dir` is the tab's model folder, `--output` one file. */
function outputRequest(options: CliOptions): OutputRequest {
  return options.outputDir
    ? { layout: 'folder', formats: options.formats, external: options.external }
    : {
        layout: 'single',
        formats: [options.format],
        external: options.external,
        modelFile: basename(options.output!),
        copyThrough: false,
      };
}

/** `--dry-run`: the summary the tab shows before converting, on stdout; nothing is created or written. */
async function dryRun(options: CliOptions): Promise<number> {
  let input: NodeInputFiles | undefined;
  try {
    input = await openNodeInput(options.input);
    const configText = options.config ? await readConfig(options.config) : undefined;
    const inspected = await inspectModel(input, configText);
    const plan = await planOutput(inspected, input, outputRequest(options));
    const where = options.outputDir ?? options.output!;
    const summary = summariseModel(inspected, input.list(), options.external);
    for (const line of describeOutput(summary, plan, where, { runtimeCheck: options.check }))
      console.log(line);
    console.log('dry run: nothing was written');
    return 0;
  } catch (e) {
    console.error(reportError(e, options.debug));
    return exitCodeFor(e);
  } finally {
    await input?.close();
  }
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

  // A folder is staged in `<dir>/.model.partial-…/` and its files renamed into <dir> on commit.
  const target = createNodeOutputTarget(
    options.outputDir ? path.join(options.outputDir, 'model') : options.output!,
  );
  let input: NodeInputFiles | undefined;
  try {
    await checkOutputLocation(target.outputDir, options.output);
    const kernels = await loadNodeKernels();
    input = await openNodeInput(options.input);
    const configText = options.config ? await readConfig(options.config) : undefined;
    const verify = (format: FormatOptions) =>
      options.check
        ? runtimeVerify({
            kernels,
            format,
            onProgress,
            signal: abort.signal,
            openSession: (t, modelFile) => openNodeSession((t as NodeOutputTarget).stagedPath(modelFile)),
            scratchTarget: () => createNodeScratchTarget('probe.onnx'),
          })
        : undefined;
    const result = await convertOutput({
      ...outputRequest(options),
      input,
      target,
      kernels,
      configText,
      signal: abort.signal,
      onProgress,
      verify,
    });
    const where = options.outputDir ?? options.output;
    log(`done: ${where} (${result.files.length} file${result.files.length > 1 ? 's' : ''})`);
    return 0;
  } catch (e) {
    bar?.clear();
    if (e instanceof ConversionAborted) {
      console.error('bitnet2onnx: cancelled; nothing was written');
      return 130;
    }
    console.error(reportError(e, options.debug));
    return exitCodeFor(e);
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
    throw fsError(e, path, 'read');
  }
}
