// Runs in the supervisor: the record of one worker process. The lifecycle state machine lives
// here, in `moveTo`, and nowhere else.

import type { ChildProcess } from 'node:child_process';
import { monotonic } from '../clock.js';
import type { SparseHistogram } from '../histogram.js';
import { quantile } from '../histogram.js';
import type { WorkerStats } from '../protocol.js';
import type { WorkerState } from './snapshot.js';

/** Which lifecycle moves are legal. Anything may exit; nothing leaves `exited`. */
const MOVES: Record<WorkerState, WorkerState[]> = {
  spawning: ['booting', 'draining', 'exited'],
  booting: ['ready', 'draining', 'exited'],
  ready: ['draining', 'exited'],
  draining: ['exited'],
  exited: [],
};

/** How far back req/s and latency percentiles look. */
const WINDOW_MS = 10_000;

export class WorkerRecord {
  state: WorkerState = 'spawning';
  readonly spawnedAt = monotonic();
  readyAt: number | null = null;
  lastHeartbeat: number | null = null;
  stats: WorkerStats | null = null;
  cpu: number | null = null;
  rss: number | null = null;
  /** Set when this worker is to be replaced; it keeps serving until its successor is ready. */
  replacing: 'reload' | 'recycle' | null = null;
  timedOut = false;
  /** Told to exit now (quick stop), rather than to drain. */
  quitting = false;
  stuckStack: string[] | null = null;
  /** Node announced its SIGINT trace (frames may follow, or none if the loop was idle). */
  sigintSeen = false;
  /** Collecting the stack Node prints on SIGINT (--trace-sigint). */
  collectingStack = false;
  bootError: { message: string; where: string | null } | null = null;
  /** When to send SIGKILL, if the worker is still alive then. */
  killAt: number | null = null;
  drainDeadline: number | null = null;
  badMessages = 0;
  warnings = 0;
  private samples: Array<{ at: number; requests: number; latency: SparseHistogram }> = [];

  constructor(
    readonly id: number,
    readonly slot: number,
    /** The reload generation whose code this worker loaded. */
    readonly gen: number,
    readonly child: ChildProcess,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Moves along the lifecycle; returns false (and stays) for a move that is not allowed. */
  moveTo(next: WorkerState): boolean {
    if (!MOVES[this.state].includes(next)) return false;
    this.state = next;
    if (next === 'ready') this.readyAt = monotonic();
    return true;
  }

  get live(): boolean {
    return this.state !== 'exited';
  }

  /** Serving or about to: not draining, not gone. */
  get active(): boolean {
    return this.state === 'spawning' || this.state === 'booting' || this.state === 'ready';
  }

  recordHeartbeat(stats: WorkerStats): void {
    const now = monotonic();
    this.lastHeartbeat = now;
    this.stats = stats;
    this.samples.push({ at: now, requests: stats.requests, latency: stats.latency });
    while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - WINDOW_MS) {
      this.samples.shift();
    }
  }

  /** Requests per second over the recent window. */
  get rps(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at === first.at) return 0;
    return ((last.requests - first.requests) * 1000) / (last.at - first.at);
  }

  /** A latency percentile (0..1) over the recent window, in ms. */
  latency(q: number): number | null {
    return quantile(
      this.samples.map((s) => s.latency),
      q,
    );
  }

  get requests(): number {
    return this.stats?.requests ?? 0;
  }
}

/** Splits a stream into lines, cutting any line longer than `max` so a flood cannot grow memory. */
export function lineSplitter(
  onLine: (line: string) => void,
  max = 16 * 1024,
): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let nl = rest.indexOf('\n');
    while (nl !== -1) {
      onLine(rest.slice(0, nl).replace(/\r$/, ''));
      rest = rest.slice(nl + 1);
      nl = rest.indexOf('\n');
    }
    while (rest.length > max) {
      onLine(`${rest.slice(0, max)}…`);
      rest = rest.slice(max);
    }
  };
}
