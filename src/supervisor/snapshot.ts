// The one model of the pool that every view reads: the log, the dashboard, `gsup status`, the
// control socket. Plain data, built on demand by the supervisor; no view keeps its own copy.

import type { PoolEvent } from '../events.js';
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
  /** The state as a person reads it: adds `timed out` and `replacing` to the lifecycle states. */
  label: string;
  /** Set when this worker is being replaced (reload or recycle) and still serves until then. */
  replacing: 'reload' | 'recycle' | null;
  uptimeMs: number;
  requests: number;
  rps: number;
  inFlight: number;
  /** Milliseconds since boot with at least one request in flight (from its last heartbeat). */
  busyMs: number;
  /** The share (0..1) of the last 10 s spent with requests in flight; null before two heartbeats. */
  utilization: number | null;
  /** Client connections open at its last heartbeat. */
  conns: number;
  /** Connections it closed to even out keep-alive load, since it started. */
  shed: number;
  status: [number, number, number, number, number];
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
  waiting: WaitingSlot[];
  events: PoolEvent[];
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

/** One worker as the views see it. */
export function workerSnapshot(
  w: WorkerHandle,
  slot: SlotRecord,
  replacing: 'reload' | 'recycle' | null,
  now: number,
): WorkerSnapshot {
  let label: string = w.state;
  if (w.timedOut) label = 'timed out';
  else if (replacing && w.state === 'ready') label = 'replacing';
  else if (w.state === 'booting' && slot.failures > 0) label = 'flapping';
  return {
    id: w.id,
    slot: w.slot,
    pid: w.pid,
    gen: w.gen,
    state: w.state,
    label,
    replacing,
    uptimeMs: now - w.spawnedAt,
    requests: w.requests,
    rps: Math.round(w.rps * 10) / 10,
    inFlight: w.stats?.inFlight ?? 0,
    busyMs: w.stats?.busyMs ?? 0,
    utilization: w.utilization === null ? null : Math.round(w.utilization * 1000) / 1000,
    conns: w.stats?.conns ?? 0,
    shed: w.stats?.shed ?? 0,
    status: w.stats ? [...w.stats.status] : [0, 0, 0, 0, 0],
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

/** Counts that outlive the workers: requests and statuses of exited ones, restarts, reloads. */
export class Totals {
  private requestsOfExited = 0;
  private busyMsOfExited = 0;
  private readonly statusOfExited: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  restarts = 0;
  reloads = 0;

  /** Keeps an exited worker's counts, so totals never go backwards. */
  exited(w: WorkerHandle): void {
    this.requestsOfExited += w.requests;
    this.busyMsOfExited += w.stats?.busyMs ?? 0;
    if (w.stats) for (let i = 0; i < 5; i++) this.statusOfExited[i as 0] += w.stats.status[i as 0];
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
      totals.requests += w.requests;
      totals.rps += w.rps;
      totals.inFlight += w.inFlight;
      totals.busyMs += w.busyMs;
      for (let i = 0; i < 5; i++) totals.status[i as 0] += w.status[i as 0];
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
