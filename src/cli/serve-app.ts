/**
 * `bitnet2onnx app`: serves the built web app (dist/, shipped in the package) on 127.0.0.1 until Ctrl+C.
 * The page converts in the tab with its own engine; this process only hands out static files.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pageCsp, serveStatic, type StaticServer } from '../platform/node/static-server.ts';
import { APP_HELP, parseAppCli, UsageError, type AppOptions } from './args.ts';

/** The built app, relative to this file (src/cli): `npm run build` writes it; the package ships it. */
export const APP_DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

export async function appCommand(argv: string[]): Promise<number> {
  let options: AppOptions | 'help';
  try {
    options = parseAppCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bitnet2onnx app: ${e.message}\nRun bitnet2onnx app --help for usage.`);
    return 2;
  }
  if (options === 'help') {
    console.log(APP_HELP);
    return 0;
  }

  let indexHtml: string;
  try {
    indexHtml = await readFile(`${APP_DIST}index.html`, 'utf8');
  } catch {
    console.error(
      `bitnet2onnx app: the web app is not built (${APP_DIST}index.html is missing): ` +
        'in a clone run `npm run build` first; an installed package ships it, so reinstall',
    );
    return 1;
  }
  const csp = pageCsp(indexHtml);
  if (!csp) {
    console.error(
      `bitnet2onnx app: ${APP_DIST}index.html declares no Content-Security-Policy; rebuild the app`,
    );
    return 1;
  }

  let server: StaticServer;
  try {
    server = await serveStatic(APP_DIST, { port: options.port, csp });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'is in use'
        : code === 'EACCES'
          ? 'needs privileges'
          : `cannot be opened (${code ?? (e as Error).message})`;
    console.error(
      `bitnet2onnx app: port ${options.port} on 127.0.0.1 ${why}: pass --port <n> (0 picks a free one)`,
    );
    return 1;
  }
  console.log(`bitnet2onnx app: serving ${APP_DIST} at ${server.url} (this machine only; Ctrl+C stops)`);
  if (options.open) openInBrowser(server.url);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

/** Hands the URL to the desktop's opener; if there is none, says so (the URL is already printed). */
function openInBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', (e) =>
    console.error(
      `bitnet2onnx app: could not open a browser (${command}: ${e.message}); open ${url} yourself`,
    ),
  );
  child.unref();
}
