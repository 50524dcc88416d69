// The pool as the screenshots show it: the real supervisor's snapshot and events, with the values
// that differ on every run replaced by stable ones, so that regenerating the images changes them
// only when the dashboard changes.
//
// Real: the pool's states and labels, which workers exist and in which slots, the reload's
// progress, restarts and reloads, every event and worker output line (in the order they
// happened, except that a run of same-kind events from workers racing each other, such as
// workers booting side by side, is shown in slot order), and the stuck worker's stack.
// Pinned: pids (31400 for the supervisor, 31400 + spawn number for workers), the port (8000),
// the checkout path (/srv/gsup) and the app's own folder when it is elsewhere (the Django
// project's temp folder shows as /srv/mysite), times (a clock the script moves), and the
// measured figures (requests, req/s, latency, lag, CPU, memory, heartbeat age), which come from a
// fixed table per worker and the pinned clock instead of from the machine.

import { EventEmitter } from 'node:events';
import type {
  PoolEvent,
  PoolSnapshot,
  Supervisor,
  WorkerOutput,
  WorkerSnapshot,
} from '../../dist/index.js';
import { elapsedMs } from './clock.js';

export const PINNED_PORT = 8000;
export const PINNED_ROOT = '/srv/gsup';

/** A folder whose real path differs per run, and the stable path shown instead. */
export type PinnedPath = [real: string, shown: string];
const SUPERVISOR_PID = 31400;
const MB = 1024 * 1024;

export type Item = { kind: 'event'; event: PoolEvent } | { kind: 'output'; output: WorkerOutput };
type Listener = ((e: PoolEvent) => void) | ((o: WorkerOutput) => void);
type Trigger = (snap: PoolSnapshot, event: PoolEvent) => boolean;

/** A PoolSource for the Dashboard that shows the real pool with its run-specific values pinned. */
export class PinnedView {
  private readonly listeners = new EventEmitter();
  /** Events and output not shown yet; they reach the dashboard only at `deliver()`. */
  private readonly pending: Item[] = [];
  /** While frozen, only `pending` items before this index belong to the frozen moment. */
  private cut: number | null = null;
  private frozen: PoolSnapshot | null = null;
  private trigger: { test: Trigger; resolve: () => void } | null = null;
  /** Real pid → spawn number. */
  private readonly ids = new Map<number, number>();
  /** Spawn number → pinned ms when first seen, for uptimes. */
  private readonly born = new Map<number, number>();
  /** Spawn number → pinned requests served. */
  private readonly served = new Map<number, number>();
  private rewrites: Array<[RegExp, string]> = [];
  /** How many times the dashboard read the snapshot: a refresh has happened when it grows. */
  reads = 0;

  /** `paths`: the folders to show at stable paths (the checkout as PINNED_ROOT, ...). */
  constructor(
    private readonly sup: Supervisor,
    private readonly paths: readonly PinnedPath[],
  ) {
    // Subscribed before the pool starts, so no event is missed.
    sup.on('event', (event) => this.onEvent(event));
    sup.on('output', (output) => this.pending.push({ kind: 'output', output }));
  }

  /** The port the pool really bound (known once it started); shown as PINNED_PORT. */
  setPort(port: number): void {
    this.rewrites = [
      [new RegExp(escapeRe(`127.0.0.1:${port}`), 'g'), `127.0.0.1:${PINNED_PORT}`],
      ...this.paths.map(([real, shown]): [RegExp, string] => [
        new RegExp(escapeRe(real.replace(/\/$/, '')), 'g'),
        shown,
      ]),
      [/old drained in [\d.]+s/g, 'old drained in 3.1s'],
      // How late the supervisor noticed the silence depends on its tick: show the timeout itself.
      [/no heartbeat for [\d.]+s \(timeout ([\d.]+)s\)/g, 'no heartbeat for $1.0s (timeout $1s)'],
    ];
  }

  // PoolSource ------------------------------------------------------------------------------

  snapshot(): PoolSnapshot {
    this.reads++;
    return this.frozen ?? this.pin(this.sup.snapshot());
  }

  on(name: 'event', listener: (e: PoolEvent) => void): this;
  on(name: 'output', listener: (o: WorkerOutput) => void): this;
  on(name: string, listener: Listener): this {
    this.listeners.on(name, listener as (...args: unknown[]) => void);
    return this;
  }

  off(name: 'event', listener: (e: PoolEvent) => void): this;
  off(name: 'output', listener: (o: WorkerOutput) => void): this;
  off(name: string, listener: Listener): this {
    this.listeners.off(name, listener as (...args: unknown[]) => void);
    return this;
  }

  // The script's controls ---------------------------------------------------------------------

  /** Resolves at the first event after which `test` holds; the view then stays at that moment. */
  freezeAt(test: Trigger): Promise<void> {
    return new Promise((resolve) => {
      this.trigger = { test, resolve };
    });
  }

  /** Lets the view follow the pool again; what happened meanwhile is shown at the next delivery. */
  unfreeze(): void {
    this.frozen = null;
    this.cut = null;
  }

  /**
   * Shows the dashboard the events and output up to now (or up to the frozen moment), in order.
   * Returns how many of each it delivered: the dashboard schedules a refresh for an event, but
   * for a line of output only a render of its log.
   */
  deliver(): { events: number; output: number } {
    const items = inSlotOrder(this.pending.splice(0, this.cut ?? this.pending.length));
    if (this.cut !== null) this.cut = 0;
    let events = 0;
    for (const item of items) {
      if (item.kind === 'event') {
        const e = item.event;
        events++;
        this.listeners.emit('event', {
          ...e,
          at: Date.now(),
          message: this.text(e.message),
          ...(e.pid !== undefined ? { pid: this.pid(e.pid) } : {}),
          ...(e.stack ? { stack: e.stack.map((f) => this.text(f)) } : {}),
        } satisfies PoolEvent);
      } else {
        const o = item.output;
        this.listeners.emit('output', {
          ...o,
          pid: this.pid(o.pid),
          line: this.text(o.line),
        } satisfies WorkerOutput);
      }
    }
    return { events, output: items.length - events };
  }

  /** Credits every serving worker with `seconds` of its pinned request rate. */
  serve(seconds: number): void {
    for (const w of this.sup.snapshot().workers) {
      if (w.state !== 'ready') continue;
      this.served.set(w.id, (this.served.get(w.id) ?? 0) + Math.round(rateOf(w.id) * seconds));
    }
  }

  // Pinning -----------------------------------------------------------------------------------

  private onEvent(event: PoolEvent): void {
    const snap = this.sup.snapshot();
    for (const w of snap.workers) {
      if (!this.ids.has(w.pid)) this.ids.set(w.pid, w.id);
      if (!this.born.has(w.id)) this.born.set(w.id, elapsedMs());
    }
    this.pending.push({ kind: 'event', event });
    if (this.trigger && this.frozen === null && this.trigger.test(snap, event)) {
      const { resolve } = this.trigger;
      this.trigger = null;
      this.frozen = this.pin(snap);
      this.cut = this.pending.length;
      resolve();
    }
  }

  private pid(real: number): number {
    if (real === process.pid) return SUPERVISOR_PID;
    const id = this.ids.get(real);
    return id === undefined ? real : SUPERVISOR_PID + id;
  }

  private text(s: string): string {
    let out = s;
    for (const [re, to] of this.rewrites) out = out.replace(re, to);
    // Every known pid in one pass, so a pinned number is never rewritten again.
    const pids = [process.pid, ...this.ids.keys()].join('|');
    out = out.replace(new RegExp(`\\b(${pids})\\b`, 'g'), (m) => String(this.pid(Number(m))));
    // "worker 2 (pid 31405) ready in 611 ms": the boot time, pinned per worker.
    return out.replace(
      /\(pid (\d+)\) ready in \d+ ms/g,
      (_m, pid: string) => `(pid ${pid}) ready in ${bootMs(Number(pid) - SUPERVISOR_PID)} ms`,
    );
  }

  private pin(s: PoolSnapshot): PoolSnapshot {
    const now = elapsedMs();
    const workers = s.workers.map((w) => this.pinWorker(w, now));
    let requests = 0;
    for (const n of this.served.values()) requests += n;
    const errors = Math.floor(requests / 20);
    const sum = (f: (w: WorkerSnapshot) => number | null) =>
      workers.reduce((n, w) => n + (f(w) ?? 0), 0);
    return {
      ...s,
      at: Date.now(),
      pid: SUPERVISOR_PID,
      listening: s.listening.map((l) => this.text(l)),
      uptimeMs: now,
      totals: {
        ...s.totals,
        requests,
        rps: sum((w) => w.rps),
        inFlight: sum((w) => w.inFlight),
        status: [0, requests - errors, 0, 0, errors],
      },
      reload: s.reload ? { ...s.reload, startedAt: Date.now() } : null,
      workers,
      events: [],
    };
  }

  private pinWorker(w: WorkerSnapshot, now: number): WorkerSnapshot {
    const id = w.id;
    const requests = this.served.get(id) ?? 0;
    const errors = Math.floor(requests / 20);
    const serving = w.state === 'ready';
    const live = serving || w.state === 'draining';
    const booting = w.state === 'booting';
    return {
      ...w,
      pid: SUPERVISOR_PID + id,
      uptimeMs: now - (this.born.get(id) ?? now),
      requests,
      rps: serving ? rateOf(id) : 0,
      inFlight: serving && id % 3 === 0 ? 1 : 0,
      status: [0, requests - errors, 0, 0, errors],
      p50Ms: live && requests > 0 ? 1.1 + (id % 4) * 0.3 : null,
      p99Ms: live && requests > 0 ? 640 + (id % 5) * 15 : null,
      lagMs: live ? 1 + (id % 4) * 0.4 : null,
      cpu: live ? 1 + (id % 3) : booting ? 14 : null,
      rss: live ? (50 + (id % 4)) * MB : booting ? 38 * MB : null,
      heartbeatAgeMs: live ? 150 + ((id * 170) % 600) : null,
      lastExit: w.lastExit === null ? null : this.text(w.lastExit),
      stuckStack: w.stuckStack ? w.stuckStack.map((f) => this.text(f)) : null,
    };
  }
}

/**
 * Workers that boot or drain side by side report in whichever order the scheduler lets them:
 * within a run of consecutive events of one kind, they are shown in slot order.
 */
export function inSlotOrder(items: Item[]): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < items.length; ) {
    const kind = workerEventKind(items[i]);
    let end = i + 1;
    while (kind !== null && end < items.length && workerEventKind(items[end]) === kind) end++;
    const run = items.slice(i, end);
    run.sort((a, b) => slotOf(a) - slotOf(b));
    out.push(...run);
    i = end;
  }
  return out;
}

/** The kind of an event about one worker (it has a slot), else null. */
function workerEventKind(item: Item | undefined): string | null {
  return item?.kind === 'event' && item.event.slot !== undefined ? item.event.type : null;
}

function slotOf(item: Item): number {
  return item.kind === 'event' ? (item.event.slot ?? 0) : item.output.slot;
}

/** A worker's pinned request rate: between 4 and 5.2 a second, different per worker. */
function rateOf(id: number): number {
  return 4 + ((id * 7) % 5) * 0.3;
}

function bootMs(id: number): number {
  return 380 + ((id * 53) % 200);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
