/**
 * The web app build. Relative base so `dist/` works from any static host or subpath; every asset is
 * emitted as a file (no data: inlining, which the CSP's connect-src would refuse to fetch); the
 * service worker gets the list of built files to precache.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';

export default defineConfig({
  base: './',
  plugins: [svelte(), relaxCspForDev(), precacheManifest()],
  build: {
    target: 'es2022',
    assetsInlineLimit: 0,
    // onnxruntime-web's WASM binary is 14 MB by itself; that is expected, not a warning.
    chunkSizeWarningLimit: 1024,
  },
  worker: {
    format: 'es',
  },
  optimizeDeps: {
    // Pre-bundling would move onnxruntime-web away from the .wasm/.mjs files it is paired with.
    exclude: ['onnxruntime-web'],
  },
  preview: {
    port: 4173,
    strictPort: false,
  },
});

/**
 * The dev server injects component CSS as <style> elements and talks to the page over a WebSocket;
 * the production CSP forbids both. Only the served (dev) page gets the looser policy.
 */
function relaxCspForDev(): Plugin {
  return {
    name: 'bitnet2onnx:relax-csp-for-dev',
    apply: 'serve',
    transformIndexHtml(html) {
      return html
        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        .replace("connect-src 'self'", "connect-src 'self' ws: wss:");
    },
  };
}

const MANIFEST_MARK = /\/\*__PRECACHE_MANIFEST__\*\/[^;]*/;

/** Writes the list of built files and a hash of their contents into dist/sw.js. */
function precacheManifest(): Plugin {
  let outDir = 'dist';
  return {
    name: 'bitnet2onnx:precache-manifest',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const swPath = path.join(outDir, 'sw.js');
      const files = (await listFiles(outDir)).filter((f) => f !== 'sw.js' && !f.endsWith('.map'));
      const hash = createHash('sha256');
      for (const f of files)
        hash
          .update(f)
          .update('\0')
          .update(await readFile(path.join(outDir, f)));
      const manifest = { version: hash.digest('hex').slice(0, 16), files: ['./', ...files] };
      const sw = await readFile(swPath, 'utf8');
      if (!MANIFEST_MARK.test(sw)) throw new Error('public/sw.js lost its __PRECACHE_MANIFEST__ marker');
      await writeFile(swPath, sw.replace(MANIFEST_MARK, JSON.stringify(manifest)));
    },
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), `${rel}/`)));
    else out.push(rel);
  }
  return out.sort();
}
