/**
 * Runs the official ONNX checker (Debian's python3-onnx 1.12, which knows opset 17 / IR 8) on a model
 * file. Fails loudly when python3 or its onnx module is missing: a skipped checker would let broken
 * models pass unnoticed.
 *
 * Why not the one-liner `onnx.checker.check_model(path, full_check=True)`: in onnx 1.12 the path form of
 * full_check calls `infer_shapes_path(path)` with no output path, which OVERWRITES the model with its
 * shape-inferred copy. The script below runs the same two checks (`check_model(path)` and
 * `infer_shapes_path(..., check_type=True, strict_mode=True)`) but sends the inferred copy to a
 * temporary file, so the file under test stays byte for byte what our writer produced.
 */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

const MISSING_ONNX_EXIT = 3;

const SCRIPT = `
import os, sys, tempfile
try:
    import onnx, onnx.checker, onnx.shape_inference
except ImportError as e:
    print("cannot import onnx: %s" % e)
    sys.exit(${MISSING_ONNX_EXIT})
path = sys.argv[1]
fd, inferred = tempfile.mkstemp(suffix=".onnx")
os.close(fd)
try:
    onnx.checker.check_model(path)
    onnx.shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
except Exception as e:
    print("%s: %s" % (type(e).__name__, e))
    sys.exit(1)
finally:
    os.remove(inferred)
print("ok (onnx %s)" % onnx.__version__)
`;

/** `env` exists so a test can prove the missing-module failure; callers leave it alone. */
export function runOfficialChecker(
  modelPath: string,
  env: NodeJS.ProcessEnv = process.env,
): { ok: boolean; output: string } {
  const run = spawnSync(PYTHON, ['-c', SCRIPT, modelPath], { encoding: 'utf8', timeout: 120_000, env });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  if (run.error) throw new Error(`cannot run ${PYTHON} for the ONNX checker: ${run.error.message}`);
  if (run.status === MISSING_ONNX_EXIT) {
    throw new Error(`${PYTHON} has no onnx module (apt-get install python3-onnx): ${output}`);
  }
  if (run.status !== 0 && run.status !== 1) {
    throw new Error(`ONNX checker crashed (exit ${run.status ?? run.signal}): ${output}`);
  }
  return { ok: run.status === 0, output };
}
