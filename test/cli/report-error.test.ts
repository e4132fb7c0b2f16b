import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, reportError } from '../../src/cli/report-error.ts';
import {
  CheckFailedError,
  ConversionAborted,
  ConversionError,
  EnvironmentError,
} from '../../src/core/errors.ts';

describe('CLI error report', () => {
  const input = new ConversionError('header is not valid JSON', {
    file: 'model.safetensors',
    found: 'a\nb\u0000',
  });
  const env = new EnvironmentError('cannot write: the disk is full', {
    path: '/out/model.onnx',
    code: 'ENOSPC',
    hint: 'free space on that disk',
  });
  const check = new CheckFailedError('onnxruntime logits disagree with the reference forward pass');
  const bug = new TypeError('x is undefined\nsecond line');

  it('maps each kind of failure to its documented exit code', () => {
    expect(exitCodeFor(input)).toBe(EXIT.input);
    expect(exitCodeFor(env)).toBe(EXIT.environment);
    expect(exitCodeFor(check)).toBe(EXIT.check);
    expect(exitCodeFor(new ConversionAborted())).toBe(EXIT.cancelled);
    expect(exitCodeFor(bug)).toBe(EXIT.internal);
    expect(EXIT).toEqual({
      ok: 0,
      input: 1,
      usage: 2,
      environment: 3,
      check: 4,
      internal: 70,
      cancelled: 130,
    });
  });

  it('prints one line without --debug, for every kind', () => {
    for (const e of [input, env, check, bug]) {
      const text = reportError(e, false);
      expect(text).not.toContain('\n');
      expect(text.startsWith('bitnet2onnx: ')).toBe(true);
    }
    expect(reportError(env, false)).toBe(
      'bitnet2onnx: /out/model.onnx: cannot write: the disk is full (ENOSPC); free space on that disk',
    );
    expect(reportError(input, false)).toBe(
      'bitnet2onnx: model.safetensors: header is not valid JSON; found a b\\u0000',
    );
    expect(reportError(bug, false)).toMatch(
      /^bitnet2onnx: internal error: TypeError: x is undefined second line \(a bug.*--debug/,
    );
  });

  it('adds the stack and its causes with --debug', () => {
    const wrapped = new EnvironmentError(
      'cannot read',
      { path: 'p', hint: 'h' },
      { cause: new Error('root cause') },
    );
    const text = reportError(wrapped, true);
    expect(text.split('\n')[0]).toBe('bitnet2onnx: p: cannot read; h');
    expect(text).toMatch(/^\s+at /m);
    expect(text).toMatch(/caused by: Error: root cause/);
  });
});
