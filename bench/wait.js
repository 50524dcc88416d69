// Waiting by polling with a deadline: readiness is something to observe, never a fixed sleep.

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns a truthy value, which is returned. Throws
 * once `deadlineMs` has passed; an error thrown by `check` (e.g. "it exited") ends the wait at once.
 */
export async function pollUntil(what, check, { deadlineMs, intervalMs = 100 }) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${deadlineMs} ms`);
    await sleep(intervalMs);
  }
}
