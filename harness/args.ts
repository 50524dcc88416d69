// Option parsing shared by the benchmarks and scripts: one error type, one integer check.

/** A bad command line: the entry point prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** `text` as an integer ≥ `min`, or a UsageError naming `flag`. */
export function int(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** A duration in whole seconds, with or without a trailing `s`. */
export function seconds(flag: string, text: string, min: number): number {
  return int(flag, text.replace(/s$/, ''), min);
}

/** A comma-separated list of integers ≥ `min`. */
export function intList(flag: string, text: string, min: number): number[] {
  return text.split(',').map((w) => int(flag, w, min));
}

/** True for an error that means the command line was wrong (ours or node:util parseArgs'). */
export function isUsageError(err: unknown): err is Error {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
