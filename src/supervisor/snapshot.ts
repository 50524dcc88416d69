// The one model of the pool that every view reads: the log, the dashboard, `gsup status`, the
// control socket. Plain data, built on demand by the supervisor; no view keeps its own copy.

import type { PoolEvent } from '../events.js';
import { BUCKETS, type SparseHistogram } from '../histogram.js';
import type { AutoscaleState, MemoryState } from './adapt.js';
import type { WorkerHandle } from './handle.js';

/** The lifecycle of one worker process. */
export type WorkerState = 'spawning' | 'booting' | 'ready' | 'draining' | 'exited';

export type { PoolEvent, WorkerOutput } from '../events.js';

export interface WorkerSnapshot {
  /** Spawn sequence number, unique for the supervisor's life. */
  id: number;
  slot: number;
  pid: number;
  /** The code generation it loaded: 1 at start, +1 per reload. */
  gen: number;
  state: WorkerState;
  /**
   * The state as a person reads it: adds `timed out`, `silent` (ready, but its heartbeat is
   * overdue: see SILENT_AFTER_HEARTBEATS), `replacing` and `flapping` to the lifecycle states.
   */
  label: string;
  /** Set when this worker is being replaced (reload or recycle) and still serves until then. */
  replacing: 'reload' | 'recycle' | null;
  /** Why it is being recycled ("rss 530 MB over 512 MB for 3 samples", "asked", ...). */
  recycleWhy?: string | null;
  uptimeMs: number;
  /**
   * The counters below are null when gsup cannot know them: an exec worker that does not speak
   * the protocol (docs/worker-protocol.md) only tells that it is alive.
   */
  requests: number | null;
  /** Requests per second now: over its last ~2 s of heartbeats; 0 while it is silent. */
  rps: number | null;
  inFlight: number | null;
  /** Milliseconds since boot with at least one request in flight (from its last heartbeat). */
  busyMs: number | null;
  /** The share (0..1) of the last 10 s spent with requests in flight; null before two heartbeats. */
  utilization: number | null;
  /** Client connections open at its last heartbeat. */
  conns: number;
  /** Connections it closed to even out keep-alive load, since it started. */
  shed: number;
  status: [number, number, number, number, number] | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** The worst event-loop delay in the last heartbeat interval. */
  lagMs: number | null;
  cpu: number | null;
  rss: number | null;
  heartbeatAgeMs: number | null;
  restarts: number;
  lastExit: string | null;
  stuckStack: string[] | null;
}

/** A slot with no live worker: it is waiting out a backoff after failed boots. */
export interface WaitingSlot {
  slot: number;
  failures: number;
  retryInMs: number;
  lastExit: string | null;
}

export type PoolState = 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped';

export interface PoolSnapshot {
  at: number;
  pid: number;
  app: string;
  listening: string[];
  versions: { gsup: string; node: string };
  /**
   * What the workers run (`-k`): gsup's Node runtime, its Python WSGI worker with this
   * interpreter, or any program. Optional for snapshots from older servers (node).
   */
  workerClass?: { kind: 'node' } | { kind: 'wsgi'; python: string } | { kind: 'exec' };
  state: PoolState;
  uptimeMs: number;
  target: number;
  maxWorkers: number;
  live: number;
  ready: number;
  timeoutMs: number;
  /**
   * The pool's utilization: the mean share of the last 10 s its ready workers spent with requests
   * in flight (0..1), or null while no ready worker has two heartbeats. A signal for autoscaling.
   */
  utilization: number | null;
  /**
   * Autoscaling: on or off, its bounds, the latest signal values, what the rule says now and its
   * last change. Always set by the supervisor; optional for snapshots from older servers.
   */
  autoscale?: AutoscaleState;
  /** Memory recycling: the limit and the last worker recycled for it; null when off. */
  memory?: MemoryState | null;
  totals: {
    requests: number;
    rps: number;
    inFlight: number;
    /** Busy milliseconds of every worker, exited ones included: never goes backwards. */
    busyMs: number;
    status: [number, number, number, number, number];
    restarts: number;
    reloads: number;
  };
  reload: { newReady: number; oldLeft: number; oldTotal: number; startedAt: number } | null;
  workers: WorkerSnapshot[];
  /** Per slot, what every worker that held it did: lasting counts that survive replacement. */
  slots: SlotTotals[];
  waiting: WaitingSlot[];
  events: PoolEvent[];
}

/**
 * What the workers of one slot did since gsup started, exited ones included: counts that never go
 * backwards when a worker is replaced (the metrics' counters read these).
 */
export interface SlotTotals {
  slot: number;
  /** Requests started. */
  requests: number;
  /** Finished responses per status class: index 0 is 1xx ... index 4 is 5xx. */
  status: [number, number, number, number, number];
  /** Milliseconds with at least one request in flight. */
  busyMs: number;
  /** CPU time in seconds (user + system), as read every second from outside the workers. */
  cpuSeconds: number;
  /** Every reported latency, cumulative: [bucket, count] pairs of src/histogram.ts's buckets. */
  latency: SparseHistogram;
}

/** What the supervisor keeps per slot, across the workers that have held it. */
export interface SlotRecord {
  /** Failed boots in a row. */
  failures: number;
  /** When the slot may boot again (monotonic ms). */
  retryAt: number;
  restarts: number;
  lastExit: string | null;
}

/**
 * A ready worker is `silent` once this many heartbeat periods passed without one: two missed in a
 * row, plus one of slack for a busy machine. With the usual 1 s period that is 3 s, and always
 * 3/4 of the timeout or less (the period is at most a quarter of it), so a hung worker shows as
 * silent before it is killed.
 */
export const SILENT_AFTER_HEARTBEATS = 3;

/**
 * One worker as the views see it. `heartbeatMs` is the period workers send heartbeats at;
 * silence is counted from `quietFrom` at the earliest (when the supervisor's own loop last came
 * back from a stall, since heartbeats were queued behind it).
 */
export function workerSnapshot(
  w: WorkerHandle,
  slot: SlotRecord,
  replacing: 'reload' | 'recycle' | null,
  now: number,
  heartbeatMs = 1000,
  quietFrom = 0,
): WorkerSnapshot {
  const silent =
    w.state === 'ready' &&
    w.lastHeartbeat !== null &&
    now - Math.max(w.lastHeartbeat, quietFrom) > SILENT_AFTER_HEARTBEATS * heartbeatMs;
  let label: string = w.state;
  if (w.timedOut) label = 'timed out';
  else if (silent) label = 'silent';
  else if (replacing && w.state === 'ready') label = 'replacing';
  else if (w.state === 'booting' && slot.failures > 0) label = 'flapping';
  // A worker that sends no counters (exec, silent) has unknown counts, not zero ones.
  const counted = w.kind !== 'exec' || w.stats !== null;
  return {
    id: w.id,
    slot: w.slot,
    pid: w.pid,
    gen: w.gen,
    state: w.state,
    label,
    replacing,
    recycleWhy: w.recycleWhy,
    uptimeMs: now - w.spawnedAt,
    requests: counted ? w.requests : null,
    // A silent worker serves nothing now, whatever its last heartbeats said.
    rps: !counted ? null : silent || w.timedOut ? 0 : Math.round(w.rps * 10) / 10,
    inFlight: counted ? (w.stats?.inFlight ?? 0) : null,
    busyMs: counted ? (w.stats?.busyMs ?? 0) : null,
    utilization: w.utilization === null ? null : Math.round(w.utilization * 1000) / 1000,
    conns: w.stats?.conns ?? 0,
    shed: w.stats?.shed ?? 0,
    status: !counted ? null : w.stats ? [...w.stats.status] : [0, 0, 0, 0, 0],
    p50Ms: w.latency(0.5),
    p99Ms: w.latency(0.99),
    lagMs: w.stats?.lagMs.max ?? null,
    cpu: w.cpu,
    rss: w.rss ?? w.stats?.rss ?? null,
    heartbeatAgeMs: w.lastHeartbeat === null ? null : now - w.lastHeartbeat,
    restarts: slot.restarts,
    lastExit: slot.lastExit,
    stuckStack: w.stuckStack,
  };
}

/** The lasting counts of one slot, dense while they are kept. */
interface SlotCounts {
  requests: number;
  status: [number, number, number, number, number];
  busyMs: number;
  cpuSeconds: number;
  latency: Float64Array;
}

/** Counts that outlive the workers: requests and statuses of exited ones, restarts, reloads. */
export class Totals {
  private requestsOfExited = 0;
  private busyMsOfExited = 0;
  private readonly statusOfExited: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  /** The exited workers' counts, per slot. */
  private readonly exitedBySlot = new Map<number, SlotCounts>();
  restarts = 0;
  reloads = 0;

  /** Keeps an exited worker's counts, so totals never go backwards. */
  exited(w: WorkerHandle): void {
    this.requestsOfExited += w.requests;
    this.busyMsOfExited += w.stats?.busyMs ?? 0;
    if (w.stats) for (let i = 0; i < 5; i++) this.statusOfExited[i as 0] += w.stats.status[i as 0];
    let kept = this.exitedBySlot.get(w.slot);
    if (!kept) {
      kept = emptyCounts();
      this.exitedBySlot.set(w.slot, kept);
    }
    addWorker(kept, w);
  }

  /** Each slot's lasting counts: its exited workers' plus its live ones', in slot order. */
  slots(live: Iterable<WorkerHandle>): SlotTotals[] {
    const bySlot = new Map<number, SlotCounts>();
    const of = (slot: number) => {
      let c = bySlot.get(slot);
      if (!c) {
        c = emptyCounts();
        bySlot.set(slot, c);
      }
      return c;
    };
    for (const [slot, kept] of this.exitedBySlot) addCounts(of(slot), kept);
    for (const w of live) addWorker(of(w.slot), w);
    return [...bySlot.entries()]
      .sort(([a], [b]) => a - b)
      .map(([slot, c]) => ({
        slot,
        requests: c.requests,
        status: c.status,
        busyMs: c.busyMs,
        cpuSeconds: Math.round(c.cpuSeconds * 1000) / 1000,
        latency: sparse(c.latency),
      }));
  }

  /** The pool's totals: the exited workers' counts plus the live ones'. */
  sum(workers: readonly WorkerSnapshot[]): PoolSnapshot['totals'] {
    const totals = {
      requests: this.requestsOfExited,
      rps: 0,
      inFlight: 0,
      busyMs: this.busyMsOfExited,
      status: [...this.statusOfExited] as [number, number, number, number, number],
      restarts: this.restarts,
      reloads: this.reloads,
    };
    for (const w of workers) {
      // Unknown counts (an exec worker's) add nothing: the totals are of what was counted.
      totals.requests += w.requests ?? 0;
      totals.rps += w.rps ?? 0;
      totals.inFlight += w.inFlight ?? 0;
      totals.busyMs += w.busyMs ?? 0;
      const status = w.status;
      if (status) for (let i = 0; i < 5; i++) totals.status[i as 0] += status[i as 0];
    }
    return totals;
  }
}

/** The mean utilization of the ready workers that have one, or null if none has. */
export function poolUtilization(workers: readonly WorkerSnapshot[]): number | null {
  let sum = 0;
  let n = 0;
  for (const w of workers) {
    if (w.state !== 'ready' || w.utilization === null) continue;
    sum += w.utilization;
    n++;
  }
  return n === 0 ? null : Math.round((sum / n) * 1000) / 1000;
}

function emptyCounts(): SlotCounts {
  return {
    requests: 0,
    status: [0, 0, 0, 0, 0],
    busyMs: 0,
    cpuSeconds: 0,
    latency: new Float64Array(BUCKETS),
  };
}

function addCounts(into: SlotCounts, c: SlotCounts): void {
  into.requests += c.requests;
  into.busyMs += c.busyMs;
  into.cpuSeconds += c.cpuSeconds;
  for (let i = 0; i < 5; i++) into.status[i as 0] += c.status[i as 0];
  for (let i = 0; i < BUCKETS; i++) into.latency[i] = (into.latency[i] ?? 0) + (c.latency[i] ?? 0);
}

function addWorker(into: SlotCounts, w: WorkerHandle): void {
  into.requests += w.requests;
  into.busyMs += w.stats?.busyMs ?? 0;
  into.cpuSeconds += w.cpuSeconds ?? 0;
  if (w.stats) for (let i = 0; i < 5; i++) into.status[i as 0] += w.stats.status[i as 0];
  for (let i = 0; i < BUCKETS; i++) {
    into.latency[i] = (into.latency[i] ?? 0) + (w.latencyTotal[i] ?? 0);
  }
}

/** The non-empty buckets of a dense histogram, as [bucket, count] pairs. */
function sparse(dense: Float64Array): SparseHistogram {
  const out: SparseHistogram = [];
  for (let i = 0; i < dense.length; i++) {
    const n = dense[i] ?? 0;
    if (n > 0) out.push([i, n]);
  }
  return out;
}
