// Time for intervals (timeouts, heartbeat ages, backoff, deadlines). A monotonic clock: an NTP
// step or a VM resume moves the wall clock, and judging heartbeats by it would kill every
// healthy worker at once. Wall-clock time (Date.now) is for display only.

import { performance } from 'node:perf_hooks';

/** Milliseconds on a clock that never jumps. */
export function monotonic(): number {
  return performance.now();
}
