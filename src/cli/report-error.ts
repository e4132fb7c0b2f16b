/**
 * How the CLI ends on an error: one line a person can act on, the stack only when asked (--debug),
 * and an exit code that tells scripts which kind of failure it was (README: Exit codes).
 */
import { CheckFailedError, ConversionAborted, ConversionError, EnvironmentError } from '../core/errors.ts';

export const EXIT = {
  ok: 0,
  input: 1,
  usage: 2,
  environment: 3,
  check: 4,
  internal: 70,
  cancelled: 130,
} as const;

export function exitCodeFor(e: unknown): number {
  if (e instanceof ConversionAborted) return EXIT.cancelled;
  if (e instanceof CheckFailedError) return EXIT.check;
  if (e instanceof ConversionError) return EXIT.input;
  if (e instanceof EnvironmentError) return EXIT.environment;
  return EXIT.internal;
}

/** The text to print for `e`: `bitnet2onnx: …` on one line, then the stack if `debug`. */
export function reportError(e: unknown, debug: boolean): string {
  const known = e instanceof ConversionError || e instanceof EnvironmentError;
  const message = oneLine(e instanceof Error ? e.message : String(e));
  const line = known
    ? `bitnet2onnx: ${message}`
    : `bitnet2onnx: internal error: ${e instanceof Error ? `${e.name}: ` : ''}${message}` +
      (debug ? '' : ' (a bug in bitnet2onnx: run again with --debug for the stack trace and report it)');
  return debug ? `${line}\n${stackOf(e)}` : line;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function stackOf(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  let text = e.stack ?? `${e.name}: ${e.message}`;
  for (
    let cause = e.cause, depth = 0;
    cause !== undefined && depth < 5;
    cause = (cause as Error).cause, depth++
  ) {
    text += `\ncaused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
  }
  return text;
}
