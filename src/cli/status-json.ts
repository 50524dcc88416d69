// `gsup status --json`: the snapshot as people and scripts read it. A view built from the
// snapshot, which itself keeps the shape the other views read: status classes by name instead of
// a positional array, durations in whole milliseconds, and the instance's name.

import type { PoolSnapshot, WorkerSnapshot } from '../supervisor/snapshot.js';

type StatusCounts = PoolSnapshot['totals']['status'];

/** `[0, 1189, 0, 1, 62]` → `{ "1xx": 0, "2xx": 1189, "3xx": 0, "4xx": 1, "5xx": 62 }`. */
export function statusClasses(counts: StatusCounts): Record<string, number> {
  return Object.fromEntries(counts.map((n, i) => [`${i + 1}xx`, n]));
}

/** A duration to the millisecond; null stays null. */
function ms(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

/**
 * A latency or event-loop lag: to the hundredth of a millisecond, because a fast app answers in
 * well under one and whole milliseconds would show it as 0.
 */
function fine(value: number | null): number | null {
  return value === null ? null : Math.round(value * 100) / 100;
}

function workerView(w: WorkerSnapshot) {
  return {
    ...w,
    uptimeMs: ms(w.uptimeMs),
    busyMs: ms(w.busyMs),
    heartbeatAgeMs: ms(w.heartbeatAgeMs),
    p50Ms: fine(w.p50Ms),
    p99Ms: fine(w.p99Ms),
    lagMs: fine(w.lagMs),
    cpu: w.cpu === null ? null : Math.round(w.cpu * 10) / 10,
    status: w.status === null ? null : statusClasses(w.status),
  };
}

/** The JSON `gsup status --json` prints for the instance `name`. */
export function statusView(snap: PoolSnapshot, name: string) {
  return {
    name,
    ...snap,
    uptimeMs: ms(snap.uptimeMs),
    totals: {
      ...snap.totals,
      rps: Math.round(snap.totals.rps * 10) / 10,
      busyMs: ms(snap.totals.busyMs),
      status: statusClasses(snap.totals.status),
    },
    reload: snap.reload && { ...snap.reload, startedAt: ms(snap.reload.startedAt) },
    workers: snap.workers.map(workerView),
    waiting: snap.waiting.map((w) => ({ ...w, retryInMs: ms(w.retryInMs) })),
  };
}
