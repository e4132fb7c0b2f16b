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
  return parts.join('; ');
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
