/**
 * The WASM kernels are committed (assembly/build/*.wasm) so that a clone or an installed package converts
 * without a build step (the repository's .npmrc sets ignore-scripts, which would skip a `prepare` build).
 * They must be exactly what `npm run build:wasm` makes from assembly/ today: rebuilt into a temporary
 * directory with the same compiler and asconfig.json, and compared byte for byte.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ASC = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');

const TARGETS = ['simd', 'scalar'] as const;

let dir: string;
const fresh = (target: string) => path.join(dir, `kernels-${target}.wasm`);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bitnet2onnx-kernels-'));
  // Both builds at once: each is one single-threaded compiler process.
  await Promise.all(
    TARGETS.map((target) =>
      promisify(execFile)(
        process.execPath,
        [
          ASC,
          'assembly/index.ts',
          '--config',
          'asconfig.json',
          '--target',
          target,
          '--outFile',
          fresh(target),
        ],
        { cwd: REPO },
      ),
    ),
  );
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('committed WASM kernels', () => {
  it.each(TARGETS)(
    'kernels-%s.wasm is up to date with assembly/ (run `npm run build:wasm` and commit if not)',
    async (target) => {
      const committed = await readFile(path.join(REPO, 'assembly/build', `kernels-${target}.wasm`));
      const rebuilt = await readFile(fresh(target));
      expect(rebuilt.length).toBeGreaterThan(1000);
      expect(committed.equals(rebuilt), `assembly/build/kernels-${target}.wasm is stale`).toBe(true);
    },
  );
});
