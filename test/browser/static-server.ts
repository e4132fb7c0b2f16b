/**
 * A minimal static file server for the built app, mounted under a subpath (as a static host would
 * serve it from a project page) to prove the build works away from the origin root. It also sends the
 * CSP as a header, since only a header reaches the worker (a <meta> CSP applies to the page alone),
 * and collects the browser's violation reports: a worker's violations reach neither the page's console
 * nor Playwright's, so a refused `eval` caught inside a library would otherwise go unseen.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

export interface StaticServer {
  /** Base URL of the app, ending in '/'. */
  url: string;
  origin: string;
  /** Paths requested so far (to see what came from the network rather than the service worker). */
  requests: string[];
  /** One line per CSP violation report received: directive, what was blocked, where. */
  cspReports: string[];
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** Path the app is served under, e.g. '/tools/bitnet2onnx/'. */
  mount?: string;
  /** Content-Security-Policy header for every response, worker scripts included. */
  csp?: string;
}

/** Where the browser posts CSP violation reports (`report-uri`, appended to the policy we send). */
const CSP_REPORT_PATH = '/__csp-report';

export async function serveStatic(root: string, options: StaticServerOptions = {}): Promise<StaticServer> {
  const mount = options.mount ?? '/app/';
  const requests: string[] = [];
  const cspReports: string[] = [];
  const csp = options.csp && `${options.csp}; report-uri ${CSP_REPORT_PATH}`;
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === CSP_REPORT_PATH && req.method === 'POST') {
      cspReports.push(summariseCspReport(await readBody(req)));
      res.writeHead(204).end();
      return;
    }
    requests.push(url.pathname);
    if (!url.pathname.startsWith(mount)) {
      res.writeHead(404).end('not found');
      return;
    }
    let rel = decodeURIComponent(url.pathname.slice(mount.length));
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(root, rel);
    if (!file.startsWith(path.resolve(root) + path.sep)) {
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
    };
    if (csp) headers['content-security-policy'] = csp;
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
  for await (const chunk of req) chunks.push(chunk as Buffer);
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
