import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_FIXTURE_NAMES,
  makeBadFixtures,
  makeFixtures,
  FIXTURE_NAMES,
  type BadFixture,
  type BadFixtureName,
  type FixtureName,
} from '../../scripts/make-fixtures.ts';
import { runOfficialChecker } from '../helpers/onnx-checker.ts';
import { runCli, runCliAndSignal } from '../helpers/cli.ts';
import { openNodeInput } from '../../src/platform/node/node-files.ts';
import { inspectModel } from '../../src/core/convert/convert.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import { loadReferenceWeights } from '../../src/core/check/reference-weights.ts';
import { referenceForward } from '../../src/core/check/reference-forward.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';
import { checkPrompt, runRuntimeCheck } from '../../src/core/check/runtime-check.ts';
import { writeSafetensorsFile } from '../helpers/synthetic-files.ts';

let root: string;
let fixtures: Record<FixtureName, string>;
let bad: Record<BadFixtureName, BadFixture>;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-e2e-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
  bad = await makeBadFixtures(path.join(root, 'fixtures'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const out = (name: string) => path.join(root, 'out', name);

/** Everything in a folder, including hidden staging folders a failed run might leave. */
const listing = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

describe('CLI converts every checkpoint variant into a model onnxruntime runs faithfully', () => {
  it.each(FIXTURE_NAMES)('%s', async (name) => {
    const model = path.join(out(name), 'model.onnx');
    const run = runCli(['--input', fixtures[name], '--output', model]);
    expect(run.stderr).toMatch(/check structure: ok/);
    expect(run.stderr).toMatch(/check runtime: ok/);
    expect(run.status).toBe(0);
    expect(listing(out(name))).toEqual(['model.onnx']);

    const checker = runOfficialChecker(model);
    expect(checker.output).toMatch(/^ok/);
    expect(checker.ok).toBe(true);

    // Independently of the CLI's own check: this process runs the written file against the reference.
    const kernels = await loadNodeKernels();
    const input = await openNodeInput(fixtures[name]);
    const { plan } = await inspectModel(input);
    const weights = await loadReferenceWeights(plan, kernels).finally(() => input.close());
    const prompt = checkPrompt(plan.dims.vocabSize, undefined, 8, 3);
    const session = await openNodeSession(model);
    try {
      const report = await runRuntimeCheck(
        session,
        plan.dims,
        prompt,
        referenceForward(plan.dims, weights, prompt),
      );
      for (const c of [report.full, report.kvCache, report.batch]) {
        expect(c.argmaxAgree).toBe(c.positions);
        expect(c.maxAbsDiff).toBeLessThanOrEqual(1e-3 * c.maxAbsLogit);
      }
    } finally {
      await session.release();
    }
  });
});

describe('compact formats keep the ternary weights and stay faithful', () => {
  const cases = (['packed-untied', 'packed-legacy', 'online-bf16', 'gqa4'] as const).flatMap((f) => [
    [f, ['--format', 'int8']],
    [f, ['--format', 'int2']],
    [f, ['--format', 'int2', '--block-size', '32']],
    [f, ['--format', 'int2', '--head', 'q8']],
    ...(f === 'packed-untied' || f === 'gqa4' ? [[f, ['--format', 'int2', '--head', 'q4']]] : []),
  ]) as [FixtureName, string[]][];

  it.each(cases)('%s %s', (name, flags) => {
    const dir = out(`${name}-${flags.join('')}`);
    const model = path.join(dir, 'model.onnx');
    const run = runCli(['-i', fixtures[name], '-o', model, ...flags]);
    expect(run.stderr).toMatch(/check runtime: ok — prompt/);
    if (flags.includes('q8') || flags.includes('q4')) {
      expect(run.stderr).toMatch(/embedding stored as float16: 0 of \d+ values not exactly representable/);
      // The re-scored logits are held to the reference; the others are reported (coarser with 4 bits).
      expect(run.stderr).toMatch(
        /top 16 vs reference: max \|Δlogit\| [^;]*argmax 8\/8; all logits \(q[84], reported\)/,
      );
    }
    expect(run.status).toBe(0);
    expect(runOfficialChecker(model).ok).toBe(true);
  });

  it('--exact is accepted and ignored: int2 is exact by default, byte for byte the same model', () => {
    const plain = path.join(out('int2-plain'), 'model.onnx');
    const flagged = path.join(out('int2-exact-flag'), 'model.onnx');
    expect(
      runCli(['-i', fixtures['packed-tied'], '-o', plain, '--format', 'int2', '--no-check']).status,
    ).toBe(0);
    const run = runCli([
      '-i',
      fixtures['packed-tied'],
      '-o',
      flagged,
      '--format',
      'int2',
      '--exact',
      '--no-check',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/note: --exact is no longer needed: int2 is exact by default/);
    expect(readFileSync(flagged).equals(readFileSync(plain))).toBe(true);
  });

  it('int8 is smaller than fp32 and int2 smaller still', () => {
    const size = (flags: string[], dir: string) => {
      const model = path.join(out(dir), 'model.onnx');
      expect(runCli(['-i', fixtures['packed-tied'], '-o', model, '--no-check', ...flags]).status).toBe(0);
      return readFileSync(model).byteLength;
    };
    const fp32 = size([], 'size-fp32');
    const int8 = size(['--format', 'int8'], 'size-int8');
    const int2 = size(['--format', 'int2'], 'size-int2');
    expect(int8).toBeLessThan(fp32);
    expect(int2).toBeLessThan(int8);
  });
});

describe('CLI behaviour users rely on', () => {
  it('writes byte-identical output for the same input', () => {
    const a = path.join(out('det-a'), 'model.onnx');
    const b = path.join(out('det-b'), 'model.onnx');
    for (const m of [a, b])
      expect(runCli(['-i', fixtures['packed-tied'], '-o', m, '--no-check']).status).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('converts and checks where code generation from strings is forbidden (as under a strict CSP)', () => {
    const model = path.join(out('no-codegen'), 'model.onnx');
    const run = runCli(
      ['-i', fixtures['packed-tied'], '-o', model, '--format', 'int8'],
      ['--disallow-code-generation-from-strings'],
    );
    expect(run.stderr).toMatch(/check structure: ok/);
    expect(run.stderr).toMatch(/check runtime: ok/);
    expect(run.status).toBe(0);
  });

  it('puts weights in external data on request; the result passes both checkers and runs', () => {
    const model = path.join(out('external'), 'model.onnx');
    const run = runCli(['-i', fixtures['packed-untied'], '-o', model, '--external-data', 'always']);
    expect(run.stderr).toMatch(/check runtime: ok/);
    expect(run.status).toBe(0);
    expect(listing(out('external')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect(runOfficialChecker(model).ok).toBe(true);
  });

  it('accepts a lone .safetensors file and a sharded index as --input', () => {
    const single = runCli([
      '-i',
      path.join(fixtures['packed-tied'], 'model.safetensors'),
      '-o',
      path.join(out('single'), 'm.onnx'),
    ]);
    expect(single.status).toBe(0);
    const index = runCli([
      '-i',
      path.join(fixtures['packed-sharded'], 'model.safetensors.index.json'),
      '-o',
      path.join(out('index'), 'm.onnx'),
    ]);
    expect(index.status).toBe(0);
  });

  it('without config.json infers what the tensors fix and says what it assumed', async () => {
    const dir = path.join(root, 'noconfig');
    await writeSafetensorsFile(dir, {
      dims: {
        hiddenSize: 256,
        intermediateSize: 320,
        numLayers: 1,
        numHeads: 2,
        numKvHeads: 1,
        headDim: 128,
        vocabSize: 300,
        maxPositions: 4096,
        ropeTheta: 500000,
        rmsNormEps: 1e-5,
        tiedEmbeddings: true,
      },
      variant: 'packed-autobitlinear',
      seed: 7,
    });
    rmSync(path.join(dir, 'config.json'));
    const run = runCli(['-i', dir, '-o', path.join(out('noconfig'), 'model.onnx')]);
    expect(run.stderr).toMatch(/no config\.json: assuming the released 2B-4T packing/);
    expect(run.stderr).toMatch(/assumed the 2B-4T values: .*ropeTheta=500000/);
    expect(run.stderr).toMatch(/check runtime: ok/);
    expect(run.status).toBe(0);
  });

  it('without config.json, shapes the defaults cannot explain ask for --config', () => {
    const dir = path.join(root, 'noconfig-tiny');
    cpSync(fixtures['packed-tied'], dir, { recursive: true });
    rmSync(path.join(dir, 'config.json'));
    const run = runCli(['-i', dir, '-o', path.join(out('noconfig-tiny'), 'model.onnx')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot infer the attention heads without config\.json; pass --config/);
    const cfg = path.join(root, 'explicit-config.json');
    writeFileSync(cfg, readFileSync(path.join(fixtures['packed-tied'], 'config.json')));
    const ok = runCli(['-i', dir, '-o', path.join(out('explicit-config'), 'model.onnx'), '--config', cfg]);
    expect(ok.status).toBe(0);
  });

  it('--help prints usage; bad flags exit 2 with a hint', () => {
    const help = runCli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--input/);
    const missing = runCli(['--input', 'x.safetensors']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/missing --output/);
    const unknownFormat = runCli(['-i', 'x', '-o', 'y.onnx', '--format', 'int3']);
    expect(unknownFormat.status).toBe(2);
  });
});

describe('bad input: one clear line, non-zero exit, nothing left behind', () => {
  it.each(BAD_FIXTURE_NAMES)('%s', (name) => {
    const fixture = bad[name];
    const dir = out(`bad-${name}`);
    const run = runCli(['-i', fixture.path, '-o', path.join(dir, 'model.onnx')]);
    expect(run.status).toBe(1);
    const line = run.stderr.trim().split('\n').pop()!;
    expect(line).toMatch(/^bitnet2onnx: /);
    expect(line).toContain(fixture.file);
    if (fixture.tensor) expect(line).toContain(fixture.tensor);
    expect(line).toMatch(fixture.problem);
    expect(listing(dir)).toEqual([]);
  });

  it('a missing input file names the path', () => {
    const run = runCli([
      '-i',
      path.join(root, 'nope.safetensors'),
      '-o',
      path.join(out('nope'), 'model.onnx'),
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('nope.safetensors');
    expect(listing(out('nope'))).toEqual([]);
  });

  it.each([
    [
      'a shape the config does not match',
      { hidden_size: 96 },
      /shape does not match the config; expected \[320, 96\]; found \[320, 64\]/,
    ],
    [
      'an unsupported quantisation',
      { quantization_config: { quant_method: 'gptq' } },
      /unsupported quantization; expected quant_method "bitnet"; found "gptq"/,
    ],
    [
      'an unsupported activation',
      { hidden_act: 'silu' },
      /unsupported activation; expected hidden_act "relu2"; found "silu"/,
    ],
  ])('%s is refused with what was expected', (label, patch, message) => {
    const dir = path.join(root, `cfg-${label.replace(/\W+/g, '-')}`);
    cpSync(fixtures['packed-tied'], dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
    const target = out(`cfg-${label.replace(/\W+/g, '-')}`);
    const run = runCli(['-i', dir, '-o', path.join(target, 'model.onnx')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(listing(target)).toEqual([]);
  });

  it('a config that is not BitNet is refused before any work', () => {
    const dir = path.join(root, 'llama');
    cpSync(fixtures['packed-tied'], dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, model_type: 'llama', architectures: ['LlamaForCausalLM'] }),
    );
    const run = runCli(['-i', dir, '-o', path.join(out('llama'), 'model.onnx')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/config\.json: unsupported architecture/);
  });
});

describe('cancel', () => {
  it('SIGINT mid-conversion stops, exits 130 and removes partial output', async () => {
    const dir = path.join(root, 'medium');
    await writeSafetensorsFile(dir, {
      dims: {
        hiddenSize: 512,
        intermediateSize: 1536,
        numLayers: 8,
        numHeads: 8,
        numKvHeads: 2,
        headDim: 64,
        vocabSize: 32000,
        maxPositions: 512,
        ropeTheta: 10000,
        rmsNormEps: 1e-5,
        tiedEmbeddings: true,
      },
      variant: 'packed-autobitlinear',
      seed: 1,
    });
    const target = out('cancelled');
    const run = await runCliAndSignal(
      ['-i', dir, '-o', path.join(target, 'model.onnx'), '--verbose'],
      /model\.layers\.2\./,
    );
    expect(run.signalled).toBe(true);
    expect(run.stderr).toMatch(/cancelled; nothing was written/);
    expect(run.status).toBe(130);
    expect(listing(target)).toEqual([]);
  });
});
