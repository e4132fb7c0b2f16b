/**
 * `bitnet2onnx app`: the real CLI serves the built app on 127.0.0.1, with the page's CSP as a header (so the
 * worker runs under it too); the page, in headless Chromium, converts the bundled sample and passes both
 * checks without one request leaving the server's origin; Ctrl+C stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageCsp } from '../../src/platform/node/static-server.ts';
import { CLI } from '../helpers/cli.ts';
import { DIST, openApp, requireBuiltApp, waitForPhase, watchContext } from './app-harness.ts';
import { launchChromium, type Browser } from './chromium.ts';

let child: ChildProcess;
let url: string;
let stderr = '';
let browser: Browser;

/** Starts `bitnet2onnx app --port 0` and resolves with the URL it prints. */
function startApp(): Promise<string> {
  child = spawn(process.execPath, [CLI, 'app', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/ at (http:\/\/\S+\/) /);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`app exited with ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  requireBuiltApp();
  url = await startApp();
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

  it('stops on SIGINT with exit code 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});
