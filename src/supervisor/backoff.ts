// Runs in the supervisor: how long a slot waits before it boots again after failing to boot.

/** First retry delay after a boot failure. */
export const BACKOFF_BASE_MS = 100;
/** A crash-looping slot never waits longer than this between tries. */
export const BACKOFF_CAP_MS = 30_000;

/** Delay before the next boot of a slot that has failed `failures` (≥ 1) times in a row. */
export function backoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
}
