// The typed IPC messages a worker sends its supervisor (JSON over the channel, fd 3).
// Both sides import this file; everything a worker sends is checked by `parseWorkerMessage`
// because a worker runs user code that may write garbage to the channel.

import type { SparseHistogram } from './histogram.js';

/** Counters a worker reports in every heartbeat. Totals are cumulative; `latency` is per interval. */
export interface WorkerStats {
  /** Requests started since the worker booted. */
  requests: number;
  /** Requests started and not yet answered. */
  inFlight: number;
  /**
   * Milliseconds since boot spent with at least one request in flight: the worker's busy time.
   * Over an interval, its growth divided by the interval's length is the worker's utilization.
   */
  busyMs: number;
  /** Finished responses per status class: index 0 is 1xx ... index 4 is 5xx. */
  status: [number, number, number, number, number];
  /** Latencies of the responses finished since the previous heartbeat. */
  latency: SparseHistogram;
  /** Event-loop delay over the interval, in milliseconds. */
  lagMs: { mean: number; max: number };
  /** Resident set size and V8 heap as the worker sees them, in bytes. */
  rss: number;
  heapUsed: number;
  /** Client connections open now (keep-alive and upgraded ones): what keep-alive balance evens out. */
  conns: number;
  /** Connections closed since boot to even out keep-alive load (`Connection: close` above the share). */
  shed: number;
}

/** What a worker says to the supervisor. */
export type WorkerMessage =
  | { t: 'ready'; listening: string[] }
  | { t: 'hb'; stats: WorkerStats }
  /** A heartbeat without counters: alive, its counts unknown (an exec worker that does not speak). */
  | { t: 'alive' }
  | { t: 'boot-error'; message: string; where: string | null }
  | { t: 'recycle'; requests: number }
  | { t: 'warn'; message: string }
  /** The app called listen() itself (`app.listen(3000)`): where, and the app's line that did. */
  | { t: 'app-listens'; address: string; where: string | null }
  /** Open connections, sent between heartbeats when the count changed (keep-alive balance). */
  | { t: 'conns'; conns: number };

// Signals carry the supervisor's orders (TERM drains, QUIT exits now, INT is only ever Node's own
// stack trace; a disconnect means orphaned). Over the channel it tells workers facts, and what no
// signal can carry: USR1 is the inspector's in a Node worker, so "reopen your log files" is a
// message.

/** What the supervisor says to a worker. Checked on arrival by `parseSupervisorMessage`. */
export type SupervisorMessage =
  /** SIGUSR1 reached gsup (logrotate moved the logs): reopen the access log at its path. */
  | { t: 'reopen-logs' }
  /**
   * Keep-alive balance: how many workers are ready (0: balance is off) and how many open
   * connections the others reported. A worker holding more than its share of the pool's
   * connections answers `Connection: close` at the end of a response, so the client reconnects
   * and the kernel may hand the new connection to another worker.
   */
  | { t: 'share'; workers: number; peers: number };

/** The settings a worker runtime reads from the GSUP_WORKER environment variable. */
export interface WorkerConfig {
  /** The app spec as given by the user, e.g. `app.js:create()`. */
  app: string;
  /** Directory the app spec is resolved against. */
  cwd: string;
  /** Inherited listening sockets: the fd numbers in the worker (3, 4, ...), one per bind. */
  fds: number[];
  backlog: number;
  heartbeatMs: number;
  /** Recycle after this many requests; 0 means never. Jitter is already added. */
  maxRequests: number;
  /** Milliseconds an idle keep-alive connection is given to send its next request while draining. */
  drainIdleMs: number;
  /** Where the worker writes its access log (a path, or an inherited fd for stdout), if anywhere. */
  accessLog: { path: string; format: string } | { fd: number; format: string } | null;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function isStats(v: unknown): v is WorkerStats {
  if (!isObj(v)) return false;
  const lag = v.lagMs;
  return (
    isNum(v.requests) &&
    isNum(v.inFlight) &&
    isNum(v.busyMs) &&
    Array.isArray(v.status) &&
    v.status.length === 5 &&
    v.status.every(isNum) &&
    Array.isArray(v.latency) &&
    v.latency.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1])) &&
    isObj(lag) &&
    isNum(lag.mean) &&
    isNum(lag.max) &&
    isNum(v.rss) &&
    isNum(v.heapUsed) &&
    isNum(v.conns) &&
    isNum(v.shed)
  );
}

/** Checks a message a worker got from the supervisor; null for anything else. */
export function parseSupervisorMessage(raw: unknown): SupervisorMessage | null {
  if (!isObj(raw)) return null;
  if (raw.t === 'reopen-logs') return { t: 'reopen-logs' };
  if (raw.t === 'share' && isCount(raw.workers) && isCount(raw.peers)) {
    return { t: 'share', workers: raw.workers, peers: raw.peers };
  }
  return null;
}

/** Checks a raw IPC message; returns the typed message or a one-line description of what is wrong. */
export function parseWorkerMessage(raw: unknown): WorkerMessage | string {
  if (!isObj(raw) || typeof raw.t !== 'string') {
    return `not a gsup message: ${describe(raw)}`;
  }
  switch (raw.t) {
    case 'ready':
      if (Array.isArray(raw.listening) && raw.listening.every((s) => typeof s === 'string')) {
        return { t: 'ready', listening: raw.listening as string[] };
      }
      break;
    case 'hb':
      if (isStats(raw.stats)) return { t: 'hb', stats: raw.stats };
      break;
    case 'alive':
      return { t: 'alive' };
    case 'boot-error':
      if (typeof raw.message === 'string') {
        const where = typeof raw.where === 'string' ? clip(raw.where) : null;
        return { t: 'boot-error', message: clip(raw.message), where };
      }
      break;
    case 'recycle':
      if (isNum(raw.requests)) return { t: 'recycle', requests: raw.requests };
      break;
    case 'warn':
      if (typeof raw.message === 'string') return { t: 'warn', message: clip(raw.message) };
      break;
    case 'app-listens':
      if (typeof raw.address === 'string') {
        const where = typeof raw.where === 'string' ? clip(raw.where) : null;
        return { t: 'app-listens', address: clip(raw.address), where };
      }
      break;
    case 'conns':
      if (isCount(raw.conns)) return { t: 'conns', conns: raw.conns };
      break;
  }
  return `malformed '${raw.t.slice(0, 40)}' message: ${describe(raw)}`;
}

/** Longest text a worker's message may put into the log and the snapshot. */
export const MAX_MESSAGE_CHARS = 2000;

/** App code can send these messages too: a huge one must not bloat the event log. */
function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS
    ? `${text.slice(0, MAX_MESSAGE_CHARS)}… (${text.length - MAX_MESSAGE_CHARS} more characters)`
    : text;
}

function describe(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
