/**
 * The committed static protobuf code must be what `npm run build:proto` makes from onnx-subset.proto
 * today: regenerated into a temporary directory and compared byte for byte.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_DTS, GENERATED_JS, generateOnnxSubset, ONNX_DIR } from '../../scripts/build-proto.ts';

describe('generated ONNX protobuf code', () => {
  it('is up to date with onnx-subset.proto (run `npm run build:proto` if not)', async () => {
    const fresh = await generateOnnxSubset();
    const committedJs = await readFile(path.join(ONNX_DIR, GENERATED_JS), 'utf8');
    const committedDts = await readFile(path.join(ONNX_DIR, GENERATED_DTS), 'utf8');
    // Plain booleans first: a 200 KB string diff is no help when the fix is to regenerate.
    expect(committedJs === fresh.js, `${GENERATED_JS} is stale: run npm run build:proto`).toBe(true);
    expect(committedDts === fresh.dts, `${GENERATED_DTS} is stale: run npm run build:proto`).toBe(true);
  });

  it('has no runtime code generation and needs only protobufjs/minimal', async () => {
    const js = await readFile(path.join(ONNX_DIR, GENERATED_JS), 'utf8');
    expect(js).not.toMatch(/\bFunction\s*\(|\beval\s*\(/);
    const imports = [...js.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports).toEqual(['protobufjs/minimal.js']);
  });
});
