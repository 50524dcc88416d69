// The one model of the pool that every view reads: the log, the dashboard, `gsup status`, the
// control socket. Plain data, built on demand by the supervisor; no view keeps its own copy.

/** The lifecycle of one worker process. */
export type WorkerState = 'spawning' | 'booting' | 'ready' | 'draining' | 'exited';

export type EventLevel = 'info' | 'warn' | 'error';
export type EventKind =
  | 'listening'
  | 'spawn'
  | 'ready'
  | 'exit'
  | 'boot-error'
  | 'timeout'
  | 'reload'
  | 'scale'
  | 'recycle'
  | 'kill'
  | 'stop'
  | 'warn';

/** Something that happened to the pool, as the log and the dashboard show it. */
export interface PoolEvent {
  at: number;
  level: EventLevel;
  kind: EventKind;
  message: string;
  slot?: number;
  pid?: number;
  /** For timeouts: the stuck worker's JS stack, innermost frame first. */
  stack?: string[];
}

/** A line a worker wrote to stdout or stderr. */
export interface WorkerOutput {
  slot: number;
  pid: number;
  stream: 'stdout' | 'stderr';
  line: string;
}

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
  totals: {
    requests: number;
    rps: number;
    inFlight: number;
    status: [number, number, number, number, number];
    restarts: number;
    reloads: number;
  };
  reload: { newReady: number; oldLeft: number; oldTotal: number; startedAt: number } | null;
  workers: WorkerSnapshot[];
  waiting: WaitingSlot[];
  events: PoolEvent[];
}
