import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixtures, type FixtureName } from '../../scripts/make-fixtures.ts';
import { convertModel } from '../../src/core/convert/convert.ts';
import { defaultFormat, type FormatOptions } from '../../src/core/formats/registry.ts';
import { runtimeVerify } from '../../src/core/check/verify.ts';
import type { DecoderSession } from '../../src/core/check/decoder-session.ts';
import type { RuntimeCheckReport } from '../../src/core/check/runtime-check.ts';
import type { ProgressEvent } from '../../src/core/convert/progress.ts';
import { loadNodeKernels } from '../../src/platform/node/load-kernels.ts';
import {
  createNodeOutputTarget,
  createNodeScratchTarget,
  openNodeInput,
  type NodeOutputTarget,
} from '../../src/platform/node/node-files.ts';
import { openNodeSession } from '../../src/runtime/ort-node.ts';

let root: string;
let fixtures: Record<FixtureName, string>;
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bitnet2onnx-verify-'));
  fixtures = await makeFixtures(path.join(root, 'fixtures'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Wraps a session so its logits come out scaled: a stand-in for a subtly wrong conversion. */
function skewed(session: DecoderSession, factor: number): DecoderSession {
  return {
    ...session,
    async run(feeds) {
      const out = await session.run(feeds);
      const logits = out.logits.data as Float32Array;
      return { ...out, logits: { ...out.logits, data: logits.map((v) => v * factor) } };
    },
  };
}

async function convertWithCheck(
  name: string,
  opts: { limit?: number; skew?: number; format?: FormatOptions; scratch?: () => NodeOutputTarget },
) {
  const kernels = await loadNodeKernels();
  const reports: { report: RuntimeCheckReport; scope: string }[] = [];
  const events: ProgressEvent[] = [];
  const target = createNodeOutputTarget(path.join(root, 'out', name, 'model.onnx'));
  const format = opts.format ?? defaultFormat('fp32');
  const input = await openNodeInput(fixtures['packed-untied']);
  const converting = convertModel({
    input,
    target,
    kernels,
    format,
    onProgress: (e) => events.push(e),
    verify: runtimeVerify({
      kernels,
      format,
      referenceParamLimit: opts.limit,
      onProgress: (e) => events.push(e),
      onReport: (report, scope) => reports.push({ report, scope }),
      openSession: async (t, file) => {
        const s = await openNodeSession((t as NodeOutputTarget).stagedPath(file));
        return opts.skew ? skewed(s, opts.skew) : s;
      },
      scratchTarget:
        opts.scratch ?? (() => createNodeOutputTarget(path.join(root, 'scratch', name, 'probe.onnx'))),
    }),
  });
  const result = converting.finally(() => input.close());
  return { result, reports, events };
}

describe('runtime verification', () => {
  it('checks a probe (first layers, cut vocabulary) when the model is over the reference limit', async () => {
    const { result, reports, events } = await convertWithCheck('probe', { limit: 0 });
    await result;
    expect(reports.map((r) => r.scope)).toEqual(['probe']);
    expect(reports[0].report.full.positions).toBe(8);
    expect(events.some((e) => e.status === 'log' && /runtime check on a probe/.test(e.message))).toBe(true);
  });

  it('the CLI’s probe scratch folder (in the system temp folder) is gone after the check', async () => {
    const folders: string[] = [];
    const made: string[] = [];
    const { result } = await convertWithCheck('probe-scratch', {
      limit: 0,
      scratch: () => {
        const t = createNodeScratchTarget('probe.onnx');
        folders.push(t.outputDir);
        const create = t.create;
        return {
          ...t,
          async create(name) {
            const sink = await create(name);
            if (existsSync(t.outputDir)) made.push(t.outputDir);
            return sink;
          },
        };
      },
    });
    await result;
    expect(folders).toHaveLength(1);
    expect(folders[0].startsWith(tmpdir())).toBe(true);
    expect(made).toEqual(folders);
    expect(existsSync(folders[0])).toBe(false);
  });

  it('fails the conversion, leaving nothing, when logits drift from the reference', async () => {
    const { result } = await convertWithCheck('skewed', { skew: 1.01 });
    await expect(result).rejects.toThrow(/logits disagree with the reference/);
  });

  it('the probe bound still catches a conversion that moves logits by their own size', async () => {
    const { result } = await convertWithCheck('skewed-probe', { limit: 0, skew: 1.5 });
    await expect(result).rejects.toThrow(/logits disagree with the reference/);
  });
});
