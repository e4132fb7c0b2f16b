// Loaded with `node --import` ahead of the real CLI: importing onnxruntime-node fails the way a native
// library that will not load does (wrong platform build, missing shared object). Nothing else changes.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === 'onnxruntime-node') return { url: 'bitnet2onnx-test:broken-ort', shortCircuit: true };
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url === 'bitnet2onnx-test:broken-ort') {
    return {
      format: 'module',
      shortCircuit: true,
      source: "throw new Error('libonnxruntime.so.1: cannot open shared object file: No such file or directory');",
    };
  }
  return next(url, context);
}`),
);
