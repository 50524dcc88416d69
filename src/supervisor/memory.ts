// Runs in the supervisor: the memory-recycling rule as one pure function. A worker whose RSS
// stayed above the limit for several readings in a row, and that has served long enough, is
// recycled through the pool's graceful path (its successor is ready before it stops accepting).
// One at a time, never during a reload. Unit-tested without processes (test/memory.test.ts).
//
// PM2's max_memory_restart restarts the process and loses requests in flight (PM2 #5562);
// uWSGI's reload-on-rss checks after each request. Here the check is from outside, every usage
// poll, so a worker whose loop is blocked is still measured.

import type { WorkerState } from './snapshot.js';

/** What the rule needs to know of one worker. */
export interface MemoryWorker {
  id: number;
  slot: number;
  pid: number;
  state: WorkerState;
  /** Already being replaced (by anything): its successor is on the way. */
  recycling: boolean;
  /** When it became ready (monotonic ms); null: not yet. */
  readyAt: number | null;
  /** Its RSS readings in bytes, oldest first, one per usage poll. */
  rss: readonly number[];
}

export interface MemoryInput {
  now: number;
  /** RSS limit in bytes. */
  limitBytes: number;
  /** Readings in a row above the limit before a worker is recycled. */
  samples: number;
  /** A worker is not recycled for memory before it has been ready this long (ms). */
  minAgeMs: number;
  workers: readonly MemoryWorker[];
  reloading: boolean;
}

/** Readings in a row above the limit before a worker is recycled: one spike is not a leak. */
export const MEMORY_SAMPLES = 3;

export interface MemoryVerdict {
  id: number;
  slot: number;
  pid: number;
  /** The latest reading, in bytes. */
  rssBytes: number;
  limitBytes: number;
  samples: number;
  /** "rss 530 MB over 512 MB for 3 samples" */
  why: string;
}

/** The worker to recycle for memory now, if any. */
export function decideMemory(input: MemoryInput): MemoryVerdict | null {
  if (input.reloading) return null;
  // One at a time: while any worker is being replaced, wait for that to finish.
  if (input.workers.some((w) => w.recycling && w.state !== 'exited')) return null;
  let worst: MemoryVerdict | null = null;
  for (const w of input.workers) {
    if (w.state !== 'ready' || w.readyAt === null) continue;
    if (input.now - w.readyAt < input.minAgeMs) continue;
    const recent = w.rss.slice(-input.samples);
    if (recent.length < input.samples || recent.some((r) => r <= input.limitBytes)) continue;
    const rssBytes = recent[recent.length - 1] ?? 0;
    if (worst && worst.rssBytes >= rssBytes) continue;
    worst = {
      id: w.id,
      slot: w.slot,
      pid: w.pid,
      rssBytes,
      limitBytes: input.limitBytes,
      samples: input.samples,
      why: `rss ${megabytes(rssBytes)} over ${megabytes(input.limitBytes)} for ${input.samples} samples`,
    };
  }
  return worst;
}

/** Bytes as "530 MB" (MB = 1024² bytes, as the limit's M suffix). */
export function megabytes(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}
