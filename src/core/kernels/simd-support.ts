/**
 * The smallest module that uses a SIMD instruction: one function `() -> v128` whose body is
 * `i32.const 0; i8x16.splat; end`. An engine without WASM SIMD rejects it at validation.
 */
const SIMD_PROBE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version 1
  ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], // type section: [] -> [v128]
  ...[0x03, 0x02, 0x01, 0x00], // function section: one function of type 0
  ...[0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b], // code: i32.const 0, i8x16.splat, end
]);

let supported: boolean | undefined;

/** Whether this engine runs WASM SIMD (v128), so the SIMD kernels build can be used. */
export function wasmSimdSupported(): boolean {
  supported ??= typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  return supported;
}
