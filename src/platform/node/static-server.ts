/**
 * A small static file server for the built web app (dist/), on 127.0.0.1 only. `bitnet2onnx app` serves
 * the installed package's app with it, and the browser tests serve the build from a subpath with it (as a
 * static host would serve a project page) to prove the build works away from the origin root.
 *
 * It sends the page's Content-Security-Policy as a header too, since only a header reaches the worker
 * (a <meta> CSP applies to the page alone). With `record`, it keeps every requested path and the browser's
 * CSP violation reports: a worker's violations reach neither the page's console nor Playwright's, so a
 * refused `eval` caught inside a library would otherwise go unseen.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

export interface StaticServer {
  /** Base URL of the app, ending in '/'. */
  url: string;
  origin: string;
  /** With `record`: paths requested so far (to see what came from the network rather than the service worker). */
  requests: string[];
  /** With `record`: one line per CSP violation report received: directive, what was blocked, where. */
  cspReports: string[];
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** Path the app is served under, e.g. '/tools/bitnet2onnx/' (default '/'). */
  mount?: string;
  /** Content-Security-Policy header for every response, worker scripts included. */
  csp?: string;
  /** TCP port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** Keep requested paths and CSP violation reports (tests); off for a long-running server. */
  record?: boolean;
  /** Further headers on every file response (e.g. COOP/COEP to make the page cross-origin isolated). */
  headers?: Record<string, string>;
}

/** Where the browser posts CSP violation reports (`report-uri`, appended to the policy when recording). */
const CSP_REPORT_PATH = '/__csp-report';

/** The CSP a built index.html declares in its <meta http-equiv="Content-Security-Policy">. */
export function pageCsp(indexHtml: string): string | undefined {
  return indexHtml.match(/http-equiv="Content-Security-Policy"\s+content="([^"]+)"/)?.[1];
}

export async function serveStatic(root: string, options: StaticServerOptions = {}): Promise<StaticServer> {
  const mount = options.mount ?? '/';
  const record = options.record ?? false;
  const requests: string[] = [];
  const cspReports: string[] = [];
  const csp = options.csp && (record ? `${options.csp}; report-uri ${CSP_REPORT_PATH}` : options.csp);
  const rootDir = path.resolve(root);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (record && url.pathname === CSP_REPORT_PATH && req.method === 'POST') {
      cspReports.push(summariseCspReport(await readBody(req)));
      res.writeHead(204).end();
      return;
    }
    if (record) requests.push(url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (!url.pathname.startsWith(mount)) {
      res.writeHead(404).end('not found');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname.slice(mount.length));
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(rootDir, rel);
    if (!file.startsWith(rootDir + path.sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers: Record<string, string | number> = {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (csp) headers['content-security-policy'] = csp;
    Object.assign(headers, options.headers);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end('internal error');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: origin + mount,
    origin,
    requests,
    cspReports,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function summariseCspReport(body: string): string {
  try {
    const r = JSON.parse(body)['csp-report'];
    const where = `${r['source-file'] ?? r['document-uri']}:${r['line-number'] ?? '?'}`;
    return `${r['effective-directive'] ?? r['violated-directive']} refused ${r['blocked-uri']} at ${where}`;
  } catch {
    return `unreadable report: ${body.slice(0, 200)}`;
  }
}
