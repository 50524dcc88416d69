// Runs in the supervisor: CPU and RSS of the workers, read from outside (pidusage), because a
// hung worker cannot report itself.

import pidusage from 'pidusage';

/** How often CPU and RSS are read. */
export const USAGE_MS = 1000;

/** Reads one process's CPU %, RSS in bytes and (if known) its CPU time in ms. */
export type UsageReader = (pid: number) => Promise<{ cpu: number; memory: number; ctime?: number }>;

/** pidusage, with its history kept a few polls long so CPU % is over one interval (never 0: it leaks). */
export const readUsage: UsageReader = (pid) => pidusage(pid, { maxage: USAGE_MS * 4 });

/**
 * Polls every target's usage; a poll still running when the next is due is skipped. Resolves
 * true when this call read fresh values (memory recycling counts readings, not calls).
 */
export function usagePoller(
  read: UsageReader,
  targets: () => Array<{
    pid: number;
    cpu: number | null;
    rss: number | null;
    cpuSeconds?: number | null;
  }>,
): () => Promise<boolean> {
  let polling = false;
  return async () => {
    if (polling) return false;
    polling = true;
    try {
      await Promise.all(
        targets().map(async (w) => {
          try {
            const u = await read(w.pid);
            w.cpu = u.cpu;
            w.rss = u.memory;
            if (u.ctime !== undefined) w.cpuSeconds = u.ctime / 1000;
          } catch {
            // the worker exited between listing and reading
          }
        }),
      );
    } finally {
      polling = false;
    }
    return true;
  };
}
