/**
 * The writer and the validator work where code generation from strings is forbidden: a Node started
 * with --disallow-code-generation-from-strings, the Node twin of a Content-Security-Policy without
 * 'unsafe-eval' (test/browser/app.test.ts covers the browser worker). protobufjs reflection would
 * throw an EvalError here the first time it encodes; the generated static code must not.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./no-codegen-child.ts', import.meta.url));

describe('ONNX writer and validator without runtime code generation', () => {
  it('write, validate and decode a model under --disallow-code-generation-from-strings', () => {
    const run = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--import', 'tsx', CHILD],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8', timeout: 60_000 },
    );
    if (run.error) throw run.error;
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]);
    const written = { ok: true, problems: [], nodes: 8, producer: 'no-codegen' };
    expect(result).toEqual({
      codeGenerationBlocked: true,
      inline: { files: ['model.onnx'], ...written },
      external: { files: ['model.onnx_data', 'model.onnx'], ...written },
    });
  });
});
