/** Process helpers shared by the benches: timed child processes, folder sizes, the synthetic checkpoint. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BitNetDims } from '../../src/core/bitnet/dims.ts';
import { writeSafetensorsFile } from '../../test/helpers/synthetic-files.ts';

export const BENCH_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.join(BENCH_DIR, '..');
export const CACHE_DIR = path.join(BENCH_DIR, '.cache');
export const CLI = path.join(REPO_DIR, 'bin', 'bitnet2onnx.js');

export interface Timed {
  /** Wall seconds measured by GNU time. */
  seconds: number;
  /** Peak resident set of the process (and its waited-for children), MiB. */
  maxRssMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs a command under GNU time for wall seconds and peak RSS; throws with its stderr on failure. */
export function timed(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    cwd: REPO_DIR,
    timeout: opts.timeoutMs,
  });
  if (r.status !== 0) {
    throw new Error(
      `${path.basename(cmd)} ${args.join(' ')} failed (status ${r.status}, signal ${r.signal}):\n${(r.stderr ?? '').slice(-3000)}`,
    );
  }
  const lines = r.stderr.trimEnd().split('\n');
  const [seconds, kb] = lines.pop()!.split(' ').map(Number);
  return { seconds, maxRssMiB: kb / 1024, stdout: r.stdout, stderr: lines.join('\n') };
}

/** Runs a TypeScript file in a fresh Node process (tsx loader), under GNU time. */
export function timedTs(file: string, args: string[], opts: { timeoutMs?: number } = {}): Timed {
  return timed(process.execPath, ['--import', 'tsx', file, ...args], opts);
}

/** Total bytes of the files in a folder (not recursive): the .onnx and its external data. */
export function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

/** Generates a synthetic packed checkpoint once (same generator and seed as bench/convert-2b4t.ts). */
export async function ensureCheckpoint(dir: string, dims: BitNetDims, log = console.log): Promise<string> {
  const file = path.join(dir, 'model.safetensors');
  if (!existsSync(file)) {
    log(
      `generating a synthetic packed checkpoint (${dims.numLayers} layers) into ${path.relative(REPO_DIR, dir)}…`,
    );
    const t = performance.now();
    await writeSafetensorsFile(dir, { dims, variant: 'packed-autobitlinear', seed: 2024 });
    log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return file;
}

export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  return [round2(a), round2(b), round2(c)];
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The installed onnxruntime-node's version. */
export function ortNodeVersion(): string {
  const pkg = path.join(REPO_DIR, 'node_modules/onnxruntime-node/package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

/** What every results file starts with: when, on what machine, with which runtimes, threads and rounds. */
export function runRecord(
  started: Date,
  run: { peerVersion?: string; threads: number; rounds: number; checkpoint: string },
) {
  return {
    date: started.toISOString(),
    finished: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, totalMemGiB: os.totalmem() / 2 ** 30 },
    node: process.version,
    onnxruntimeNode: ortNodeVersion(),
    nodeLlamaCpp: run.peerVersion,
    threads: run.threads,
    rounds: run.rounds,
    checkpoint: run.checkpoint,
  };
}
