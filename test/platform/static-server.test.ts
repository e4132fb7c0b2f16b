import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticServer } from '../../src/platform/node/static-server.ts';

let root: string;
let server: StaticServer;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'static-server-'));
  writeFileSync(path.join(root, 'index.html'), '<p>hi</p>');
  server = await serveStatic(root, {
    mount: '/app/',
    csp: "default-src 'self'",
    headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
  });
});
afterAll(() => server.close());

describe('static server (bitnet2onnx app, browser tests, bench:browser)', () => {
  it('serves the mount with its CSP and the extra headers (COOP/COEP for an isolated page)', async () => {
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<p>hi</p>');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('answers 404 outside the mount or for a missing file, and refuses to leave the root', async () => {
    expect((await fetch(`${server.origin}/index.html`)).status).toBe(404);
    expect((await fetch(`${server.url}missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}..%2F..%2Fetc%2Fpasswd`)).status).toBe(403);
  });
});
