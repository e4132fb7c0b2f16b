/**
 * The one error type a user can cause. Its message is a single line that names the file, the tensor
 * and what was expected versus found, so both front ends can print it as is.
 */
export interface ConversionErrorDetails {
  file?: string;
  tensor?: string;
  expected?: string;
  found?: string;
}

export class ConversionError extends Error {
  readonly details: ConversionErrorDetails;

  constructor(problem: string, details: ConversionErrorDetails = {}) {
    super(formatConversionError(problem, details));
    this.name = 'ConversionError';
    this.details = details;
  }
}

export function formatConversionError(problem: string, d: ConversionErrorDetails): string {
  const where = [d.file, d.tensor ? `tensor ${d.tensor}` : undefined].filter(Boolean).join(', ');
  const parts = [where ? `${where}: ${problem}` : problem];
  if (d.expected !== undefined) parts.push(`expected ${d.expected}`);
  if (d.found !== undefined) parts.push(`found ${d.found}`);
  return oneLine(parts.join('; '));
}

/**
 * Messages quote what they found (a JSON parser's snippet, a name from a file): line breaks become
 * spaces and other control characters are escaped, so a message is always one printable line.
 */
export function oneLine(text: string): string {
  let out = '';
  for (const ch of text.replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' ')) {
    const code = ch.charCodeAt(0);
    out += (code < 0x20 && code !== 0x09) || code === 0x7f ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

/** Thrown when the user (or the caller) cancels a conversion through its AbortSignal. */
export class ConversionAborted extends Error {
  constructor() {
    super('conversion cancelled');
    this.name = 'ConversionAborted';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ConversionAborted();
}

/**
 * The machine, not the checkpoint, stands in the way: a path that cannot be written, a full disk, a
 * permission, kernels or a native library that will not load. The message is one line naming the path,
 * what happened and what to do (`hint`), so a front end can print it as is or show the two apart.
 */
export interface EnvironmentErrorDetails {
  /** The file or folder concerned, as the user gave it where possible. */
  path?: string;
  /** The system's error code (ENOSPC, EACCES, QuotaExceededError…), when there is one. */
  code?: string;
  /** What to do about it, as an instruction. */
  hint: string;
}

export class EnvironmentError extends Error {
  readonly details: EnvironmentErrorDetails;
  /** The message without the hint. */
  readonly problem: string;

  constructor(problem: string, details: EnvironmentErrorDetails, options?: { cause?: unknown }) {
    const line = oneLine(
      [details.path, problem].filter(Boolean).join(': ') + (details.code ? ` (${details.code})` : ''),
    );
    super(`${line}; ${oneLine(details.hint)}`, options);
    this.name = 'EnvironmentError';
    this.details = details;
    this.problem = line;
  }
}

/** The written model was refused by a check (structural validation, the onnxruntime comparison). */
export class CheckFailedError extends ConversionError {
  constructor(problem: string, details: ConversionErrorDetails = {}) {
    super(problem, details);
    this.name = 'CheckFailedError';
  }
}
