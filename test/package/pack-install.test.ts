/**
 * The package as a stranger gets it: `npm pack`, install the tarball into an empty folder (scripts off, from
 * the local npm cache when it can), then `npx bitnet2onnx` converts a fixture to the same bytes as the
 * clone's CLI, with onnxruntime-node's check, and `bitnet2onnx app` serves the shipped web app. Needs the
 * built app (dist/), which `npm test` builds first and the package ships.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, type FixtureName } from '../../scripts/make-fixtures.ts';
import { DIST, REPO, requireBuiltApp } from '../browser/app-harness.ts';
import { runCli } from '../helpers/cli.ts';

let root: string;
let tarball: string;
let packed: string[];
let project: string;
let installed: string;
let fixtures: Record<FixtureName, string>;

/** The environment minus what `npm test` set for the repository (a stranger's shell has none of it). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry') env[k] = v;
  }
  return env;
}

function npm(args: string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 600_000 });
  if (r.error) throw r.error;
  expect(r.status, `npm ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  requireBuiltApp();
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-pack-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', root], REPO));
  tarball = path.join(root, info.filename);
  packed = info.files.map((f: { path: string }) => f.path);
  project = path.join(root, 'project');
  mkdirSync(project);
  npm(['init', '-y'], project);
  npm(['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], project);
  installed = path.join(project, 'node_modules/bitnet2onnx');
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the engine, CLI, kernels and built app, and no tests, benches, fixtures or UI sources', () => {
    for (const f of [
      'bin/bitnet2onnx.js',
      'src/cli/main.ts',
      'src/core/convert/convert.ts',
      'src/runtime/ort-node.ts',
      'src/platform/node/node-files.ts',
      'assembly/build/kernels-simd.wasm',
      'assembly/build/kernels-scalar.wasm',
      'dist/index.html',
      'dist/sample/model.safetensors',
      'package.json',
      'README.md',
    ])
      expect(packed).toContain(f);
    const stray = packed.filter((f) =>
      /^(test|bench|scripts|public|assembly\/[^b]|src\/(ui|worker|platform\/browser)|\.ci|node_modules)\b/.test(
        f,
      ),
    );
    expect(stray).toEqual([]);
    expect(packed.filter((f) => f.startsWith('src/runtime/'))).toEqual(
      expect.not.arrayContaining(['src/runtime/ort-web.ts']),
    );
  });

  it('declares only what the CLI needs at run time', () => {
    const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['onnxruntime-node', 'protobufjs', 'tsx']);
    // The app's packages are bundled into dist/ at build time.
    expect(existsSync(path.join(project, 'node_modules/onnxruntime-web'))).toBe(false);
    expect(existsSync(path.join(project, 'node_modules/svelte'))).toBe(false);
  });

  it('installed without running onnxruntime-node’s install script (no CUDA download)', () => {
    const bin = path.join(
      project,
      `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}`,
    );
    const files = readdirSync(bin);
    expect(files).toContain('onnxruntime_binding.node');
    expect(files.filter((f) => /cuda|tensorrt/i.test(f))).toEqual([]);
  });

  it('the README’s install line (scripts on, ONNXRUNTIME_NODE_INSTALL=skip) installs with no CUDA download', () => {
    const other = path.join(root, 'scripts-on');
    mkdirSync(other);
    npm(['init', '-y'], other);
    const r = spawnSync(
      'npm',
      ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'],
      {
        cwd: other,
        encoding: 'utf8',
        env: { ...cleanEnv(), ONNXRUNTIME_NODE_INSTALL: 'skip' },
        timeout: 600_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    // The install script did run (and stopped at the flag): the control that scripts were on.
    expect(r.stdout).toMatch(/onnxruntime-node@[\d.]+ postinstall/);
    const bin = path.join(
      other,
      `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}`,
    );
    expect(readdirSync(bin).filter((f) => /cuda|tensorrt/i.test(f))).toEqual([]);
    const version = spawnSync(
      process.execPath,
      [path.join(other, 'node_modules/bitnet2onnx/bin/bitnet2onnx.js'), '--version'],
      {
        encoding: 'utf8',
      },
    );
    expect(version.status, version.stderr).toBe(0);
  });

  it('npx bitnet2onnx converts a fixture to the same bytes as the clone’s CLI, checks included', () => {
    const fromPackage = path.join(root, 'out-package/model.onnx');
    const fromClone = path.join(root, 'out-clone/model.onnx');
    const npx = spawnSync(
      'npx',
      ['--no-install', 'bitnet2onnx', '--input', fixtures['packed-untied'], '--output', fromPackage],
      { cwd: project, encoding: 'utf8', env: cleanEnv(), timeout: 300_000 },
    );
    expect(npx.status, npx.stderr).toBe(0);
    expect(npx.stderr).toMatch(/check .*: ok/);
    const clone = runCli(['--input', fixtures['packed-untied'], '--output', fromClone]);
    expect(clone.status, clone.stderr).toBe(0);
    const a = readFileSync(fromPackage);
    expect(a.length).toBeGreaterThan(100_000);
    expect(a.equals(readFileSync(fromClone))).toBe(true);
  });

  it('bitnet2onnx --version prints the package version', () => {
    const r = spawnSync('npx', ['--no-install', 'bitnet2onnx', '--version'], {
      cwd: project,
      encoding: 'utf8',
      env: cleanEnv(),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);
  });

  it('bitnet2onnx app serves the web app shipped in the package', async () => {
    const child = spawn(
      process.execPath,
      [path.join(installed, 'bin/bitnet2onnx.js'), 'app', '--port', '0'],
      {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = out.match(/serving (\S+) at (http:\/\/\S+\/) /);
          if (m) {
            expect(m[1]).toBe(`${path.join(installed, 'dist')}/`);
            resolve(m[2]);
          }
        });
        child.on('exit', (code) => reject(new Error(`app exited with ${code}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(path.join(DIST, 'index.html'), 'utf8'));
      expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
      const sample = Buffer.from(await (await fetch(`${url}sample/model.safetensors`)).arrayBuffer());
      expect(sample.equals(readFileSync(path.join(DIST, 'sample/model.safetensors')))).toBe(true);
    } finally {
      child.kill('SIGINT');
    }
  });
});
