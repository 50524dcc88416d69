// Waiting by polling with a deadline: readiness is something to observe, never a fixed sleep.
// Deadlines run on the monotonic clock, not Date: the screenshot script pins Date (it only moves
// when the script says so), and a wait timed by Date there never ran out, it hung.

import { performance } from 'node:perf_hooks';

/** Deadlines are generous: the machine is shared and has two cores. */
export const DEADLINE_MS = 30_000;

/** Resolves after `ms`: only for timing a measurement (bench), never to synchronise a test. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns a truthy value, which is returned. Throws
 * once the deadline has passed; an error thrown by `check` (e.g. "it exited") ends the wait at once.
 */
export async function pollUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  { deadlineMs = DEADLINE_MS, intervalMs = 25 }: { deadlineMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (performance.now() > end)
      throw new Error(`timed out after ${deadlineMs} ms waiting until ${what}`);
    await sleep(intervalMs);
  }
}

/** Polls a condition until it holds, or fails with `what` after the deadline. */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = DEADLINE_MS,
): Promise<void> {
  await pollUntil(what, cond, { deadlineMs: timeoutMs });
}
