/**
 * scripts/provision.sh, which `npm test` runs first: a no-op on a provisioned machine, and one line saying
 * exactly what to run where it cannot install (not root, no password-less sudo, or no apt-get). The
 * "cannot install" cases run with a PATH holding only a fake `id` (a non-root user) and, for one, apt-get.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/provision.sh', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A PATH with a fake `id` reporting uid 1000 and no sudo; apt-get only when asked. */
function nonRootPath(withAptGet: boolean): string {
  const bin = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-provision-'));
  dirs.push(bin);
  writeFileSync(path.join(bin, 'id'), '#!/bin/sh\necho 1000\n');
  chmodSync(path.join(bin, 'id'), 0o755);
  if (withAptGet) symlinkSync('/bin/false', path.join(bin, 'apt-get'));
  return bin;
}

function provision(env: Record<string, string> = {}) {
  const r = spawnSync('/bin/sh', [SCRIPT], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/provision.sh', () => {
  it('does nothing on a machine that has Chromium and python3-onnx', () => {
    expect(provision()).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('prints the one apt-get command to run when it may not install', () => {
    const r = provision({ CHROMIUM_PATH: '/nonexistent/chromium', PATH: nonRootPath(true) });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'provision: the tests need chromium: run `sudo apt-get update && sudo apt-get install -y chromium`, ' +
        'then npm test again\n',
    );
  });

  it('names the packages when there is no apt-get', () => {
    const r = provision({ CHROMIUM_PATH: '/nonexistent/chromium', PATH: nonRootPath(false) });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/need chromium .*no apt-get/);
  });
});
