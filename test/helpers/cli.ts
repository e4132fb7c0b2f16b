import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/bitnet2onnx.js', import.meta.url));

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI in a child process, as a user would; `nodeFlags` go to node itself, `options` to
 * the spawn (environment, user).
 */
export function runCli(
  args: string[],
  nodeFlags: string[] = [],
  options: Pick<SpawnSyncOptions, 'env' | 'uid' | 'gid'> = {},
): CliRun {
  const r = spawnSync(process.execPath, [...nodeFlags, CLI, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    ...options,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI and sends `signal` as soon as stderr matches `when`. */
export function runCliAndSignal(
  args: string[],
  when: RegExp,
  signal: NodeJS.Signals = 'SIGINT',
): Promise<CliRun & { signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!signalled && when.test(stderr)) {
        signalled = true;
        child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, signalled }));
  });
}
