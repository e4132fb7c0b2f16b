/**
 * Conversion benchmark on a full-size, 2B-4T-shaped synthetic packed checkpoint (real tensor names and
 * shapes, random ternary weights). Prints wall time, MB/s, peak RSS of the CLI process and, measured in
 * the same run on the same disk, the time of plainly writing and of copying the same number of bytes.
 *
 *   npm run bench            (first run generates ~1.2 GB into bench/.cache, reused afterwards)
 *   npm run bench -- --keep  (keep the converted model)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BITNET_2B_4T_DIMS } from '../src/core/bitnet/synthetic.ts';
import { writeSafetensorsFile } from '../test/helpers/synthetic-files.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const cache = path.join(here, '.cache');
const modelDir = path.join(cache, '2b4t-packed');
const outDir = path.join(cache, 'out-fp32');
const cli = path.join(here, '..', 'bin', 'bitnet2onnx.js');
const keep = process.argv.includes('--keep');
const MB = 1e6;

interface Timed {
  seconds: number;
  maxRssMiB: number;
}

/** Runs a command under GNU time for wall seconds and peak RSS. */
function timed(cmd: string, args: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  const [seconds, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds, maxRssMiB: kb / 1024 };
}

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

async function ensureCheckpoint(): Promise<number> {
  const file = path.join(modelDir, 'model.safetensors');
  if (!existsSync(file)) {
    console.log('generating the 2B-4T-shaped synthetic checkpoint (once)…');
    const t = performance.now();
    await writeSafetensorsFile(modelDir, {
      dims: BITNET_2B_4T_DIMS,
      variant: 'packed-autobitlinear',
      seed: 2024,
    });
    console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return statSync(file).size;
}

/** Writes `bytes` bytes in 8 MiB chunks with plain fs writes: the floor any converter writing them pays. */
const WRITE_SCRIPT = `
const fs = require('fs');
const [file, total] = [process.argv[1], Number(process.argv[2])];
const chunk = Buffer.alloc(8 << 20, 1);
const fd = fs.openSync(file, 'w');
for (let done = 0; done < total; ) { const n = Math.min(chunk.length, total - done); fs.writeSync(fd, chunk, 0, n); done += n; }
fs.closeSync(fd);
`;

async function main() {
  mkdirSync(cache, { recursive: true });
  const inputBytes = await ensureCheckpoint();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const readInput = timed('sh', ['-c', 'cat "$0" > /dev/null', path.join(modelDir, 'model.safetensors')]);
  const plainFile = path.join(cache, 'plain-write.bin');
  const copyDir = path.join(cache, 'copy');
  // Page-cache writeback makes a multi-GB write's time depend on what ran before it, so every timed run
  // starts after `sync` with the previous outputs deleted, and conversion and plain write alternate.
  const settle = () => {
    rmSync(plainFile, { force: true });
    rmSync(copyDir, { recursive: true, force: true });
    spawnSync('sync');
  };
  const converts: Timed[] = [];
  const writes: Timed[] = [];
  let outputBytes = 0;
  for (let round = 0; round < 2; round++) {
    settle();
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    spawnSync('sync');
    converts.push(
      timed(process.execPath, [cli, '-i', modelDir, '-o', path.join(outDir, 'model.onnx'), '--no-check']),
    );
    outputBytes = folderBytes(outDir);
    settle();
    writes.push(timed(process.execPath, ['-e', WRITE_SCRIPT, plainFile, String(outputBytes)]));
  }
  settle();
  const copy = timed('cp', ['-r', outDir, copyDir]);
  settle();
  if (!keep) rmSync(outDir, { recursive: true, force: true });
  const best = (runs: Timed[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const convert = { ...best(converts), maxRssMiB: Math.max(...converts.map((c) => c.maxRssMiB)) };
  const plainWrite = best(writes);

  const results = {
    date: new Date().toISOString(),
    inputBytes,
    outputBytes,
    runs: { convertSeconds: converts.map((c) => c.seconds), plainWriteSeconds: writes.map((w) => w.seconds) },
    convert: {
      ...convert,
      outputMBps: outputBytes / MB / convert.seconds,
      inputMBps: inputBytes / MB / convert.seconds,
    },
    plainWrite: { ...plainWrite, MBps: outputBytes / MB / plainWrite.seconds },
    copy: { ...copy, MBps: outputBytes / MB / copy.seconds },
    readInput,
    ratioToPlainWrite: convert.seconds / plainWrite.seconds,
    ratioToCopy: convert.seconds / copy.seconds,
  };
  writeFileSync(path.join(cache, 'results-fp32.json'), JSON.stringify(results, null, 2));
  const f = (n: number, d = 1) => n.toFixed(d);
  console.log(`\n2B-4T-shaped packed checkpoint → FP32 ONNX (external data), CLI with --no-check`);
  console.log(`  input            ${f(inputBytes / MB, 0)} MB   output ${f(outputBytes / MB, 0)} MB`);
  console.log(
    `  runs (s)         convert ${converts.map((c) => f(c.seconds, 2)).join(', ')}; plain write ${writes.map((w) => f(w.seconds, 2)).join(', ')} (best of each below)`,
  );
  console.log(
    `  conversion       ${f(convert.seconds, 2)} s   ${f(results.convert.outputMBps, 0)} MB/s out, ${f(results.convert.inputMBps, 0)} MB/s in   peak RSS ${f(convert.maxRssMiB, 0)} MiB`,
  );
  console.log(
    `  plain write      ${f(plainWrite.seconds, 2)} s   ${f(results.plainWrite.MBps, 0)} MB/s   → ratio ${f(results.ratioToPlainWrite, 2)}× (target ≤ 1.5×)`,
  );
  console.log(
    `  plain copy (cp)  ${f(copy.seconds, 2)} s   ${f(results.copy.MBps, 0)} MB/s   → ratio ${f(results.ratioToCopy, 2)}×`,
  );
  console.log(`  read input (cat) ${f(readInput.seconds, 2)} s`);
  console.log(`  results: ${path.relative(process.cwd(), path.join(cache, 'results-fp32.json'))}`);
}

await main();
