/**
 * `bitnet2onnx app`: the real CLI serves the built app on 127.0.0.1, with the page's CSP as a header (so the
 * worker runs under it too); the page, in headless Chromium, converts the bundled sample and passes both
 * checks without one request leaving the server's origin; Ctrl+C stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pageCsp } from '../../src/platform/node/static-server.ts';
import { CLI } from '../helpers/cli.ts';
import { DIST, openApp, requireBuiltApp, waitForPhase, watchContext } from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';

let child: ChildProcess;
let url: string;
let stderr = '';
let browser: Browser;

/** Starts `bitnet2onnx app --port 0 …` and resolves with the process and the URL it prints. */
function startApp(
  args: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [CLI, 'app', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  proc.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/ at (http:\/\/\S+\/) /);
      if (m) resolve({ child: proc, url: m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`app exited with ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  requireBuiltApp();
  ({ child, url } = await startApp());
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

describe('bitnet2onnx app', () => {
  it('listens on 127.0.0.1 only', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const port = Number(new URL(url).port);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) {
      const refused = await new Promise<string>((resolve) => {
        const socket = connect(port, external.address);
        socket.on('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe('ECONNREFUSED');
    }
  });

  it('sends the built page with its CSP as a header, and the worker script too', async () => {
    const index = readFileSync(path.join(DIST, 'index.html'), 'utf8');
    const csp = pageCsp(index);
    expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(csp);
    expect(await page.text()).toBe(index);
    const worker = path.basename(
      readFileSync(path.join(DIST, 'sw.js'), 'utf8').match(/assets\/worker-[^"]+\.js/)![0],
    );
    const script = await fetch(new URL(`assets/${worker}`, url));
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.headers.get('content-security-policy')).toBe(csp);
    // An encoded '../' reaches the server as such (the URL parser resolves only literal dot segments).
    expect((await fetch(`${url}..%2f..%2f..%2fetc%2fpasswd`)).status).toBe(403);
  });

  it('converts the bundled sample in Chromium with no request to another origin', async () => {
    const watch = await watchContext(browser.context, new URL(url).origin);
    const page = await openApp(browser.context, url, watch);
    await page.getByTestId('sample').click();
    expect(await waitForPhase(page, ['ready', 'invalid'])).toBe('ready');
    await page.getByTestId('runtime-check').check();
    await page.getByTestId('convert').click();
    expect(await waitForPhase(page, ['done', 'failed'])).toBe('done');
    await expect(page.locator('[data-check=structure]').getAttribute('data-ok')).resolves.toBe('true');
    await expect(page.locator('[data-check=runtime]').getAttribute('data-ok')).resolves.toBe('true');
    await page.close();
    expect(watch.requests.length).toBeGreaterThan(5);
    expect(watch.foreign).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.errors).toEqual([]);
  });

  it('--open hands the URL to the desktop opener', async () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-opener-'));
    const opened = path.join(bin, 'opened.txt');
    try {
      // Stand-ins for xdg-open (Linux) and open (macOS) that record what they were asked to open.
      for (const name of ['xdg-open', 'open']) {
        writeFileSync(path.join(bin, name), `#!/bin/sh\necho "$1" > '${opened}'\n`);
        chmodSync(path.join(bin, name), 0o755);
      }
      const other = await startApp(['--open'], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
      try {
        await vi.waitFor(() => expect(readFileSync(opened, 'utf8').trim()).toBe(other.url), {
          timeout: 60_000,
          interval: 100,
        });
      } finally {
        const exited = new Promise((resolve) => other.child.once('exit', resolve));
        other.child.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('stops on SIGINT with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});
