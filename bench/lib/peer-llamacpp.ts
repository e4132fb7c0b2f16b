/**
 * llama.cpp as the decode bench's peer: installs node-llama-cpp (pinned by bench/peers/llamacpp/package-lock.json)
 * into that folder's own node_modules on first use, and converts a synthetic checkpoint to a TQ2_0 GGUF once
 * (bench/peers/llamacpp/to_gguf.py, numpy), cached beside the bench's other outputs with a stamp of its source.
 * Only the bench calls this; tests never do, and node-llama-cpp is never a dependency of the project.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, timed, type Timed } from './proc.ts';

export const PEER_DIR = path.join(BENCH_DIR, 'peers', 'llamacpp');
const PYTHON = '/usr/bin/python3';

/** Installs node-llama-cpp into bench/peers/llamacpp/node_modules unless it is there; returns its version. */
export function ensurePeerInstalled(log: (s: string) => void): string {
  const pkg = path.join(PEER_DIR, 'node_modules', 'node-llama-cpp', 'package.json');
  if (!existsSync(pkg)) {
    log(
      `installing the peer (node-llama-cpp, pinned) into ${path.relative(process.cwd(), PEER_DIR)}/node_modules…`,
    );
    const r = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: PEER_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status !== 0 || !existsSync(pkg))
      throw new Error(`npm ci in ${PEER_DIR} failed (status ${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
  }
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

interface Stamp {
  source: string;
  size: number;
  mtimeMs: number;
  wtype: string;
}

/**
 * The TQ2_0 GGUF of `checkpointDir` (F16 embedding, which is also the head), converted once into `cacheDir`;
 * reconverted when the checkpoint file changed. Returns the path and, when it converted now, the conversion's
 * time and peak RSS.
 */
export function ensureGguf(
  checkpointDir: string,
  cacheDir: string,
  log: (s: string) => void,
): { file: string; converted?: Timed } {
  const source = realpathSync(path.join(checkpointDir, 'model.safetensors'));
  const st = statSync(source);
  const want: Stamp = { source, size: st.size, mtimeMs: st.mtimeMs, wtype: 'tq2_0' };
  const dir = path.join(cacheDir, 'llamacpp');
  const file = path.join(dir, `${path.basename(checkpointDir)}.tq2_0.gguf`);
  const stampFile = `${file}.source.json`;
  if (existsSync(file) && existsSync(stampFile)) {
    const have = JSON.parse(readFileSync(stampFile, 'utf8')) as Stamp;
    if (JSON.stringify(have) === JSON.stringify(want)) return { file };
  }
  mkdirSync(dir, { recursive: true });
  rmSync(stampFile, { force: true });
  const tmp = `${file}.tmp`;
  log(`converting ${path.relative(process.cwd(), checkpointDir)} to a TQ2_0 GGUF for llama.cpp (once)…`);
  const converted = timed(PYTHON, [
    path.join(PEER_DIR, 'to_gguf.py'),
    checkpointDir,
    tmp,
    '--wtype',
    'tq2_0',
  ]);
  renameSync(tmp, file);
  writeFileSync(stampFile, JSON.stringify(want));
  log(
    `  ${converted.stdout.trim()} (${converted.seconds.toFixed(1)} s, peak RSS ${converted.maxRssMiB.toFixed(0)} MiB)`,
  );
  return { file, converted };
}
