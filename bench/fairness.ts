// Scheduling fairness between setups. With kernel.sched_autogroup_enabled=1 the scheduler shares
// CPU between sessions first: gsup's workers each start a session (they are spawned detached, for
// their own process group), so N gsup workers get N shares where cluster's, PM2's or Gunicorn's N
// workers share one, and wrk shares the runner's (measured: docs/benchmarks.md). The throughput
// benchmark turns autogroup off for its run where it may (root), and says so in its results.

import { readFileSync, writeFileSync } from 'node:fs';

const AUTOGROUP = '/proc/sys/kernel/sched_autogroup_enabled';

/** What the run did about autogroup scheduling, for the results and the report. */
export type Autogroup =
  | 'absent'
  | 'off'
  | 'turned off for this run'
  | 'on: setups with a session per worker (gsup) get more CPU at N >= 2';

/** Turns autogroup scheduling off until `restore()` (also called on exit); says what it did. */
export function autogroupOff(): { state: Autogroup; restore: () => void } {
  let was: string;
  try {
    was = readFileSync(AUTOGROUP, 'utf8').trim();
  } catch {
    return { state: 'absent', restore: () => undefined };
  }
  if (was === '0') return { state: 'off', restore: () => undefined };
  try {
    writeFileSync(AUTOGROUP, '0');
  } catch {
    return {
      state: 'on: setups with a session per worker (gsup) get more CPU at N >= 2',
      restore: () => undefined,
    };
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      writeFileSync(AUTOGROUP, was);
    } catch {
      // nothing more to do: the next boot resets it
    }
  };
  process.once('exit', restore);
  return { state: 'turned off for this run', restore };
}
