// Runs in the supervisor: the pool that adapts. Once per usage poll it samples the signals
// (utilization over a short window, the accept queue, event-loop lag, each worker's RSS), keeps
// the recent history, and asks the two pure rules what to do: `decideScale` (./autoscale.ts) and
// `decideMemory` (./memory.ts). The arbiter applies their answers through its own methods
// (setTarget, recycle) and emits the typed events; this file keeps the state the views show.

import { acceptQueue, socketInode } from './accept-queue.js';
import {
  type AutoscaleDecision,
  type AutoscaleSample,
  type AutoscaleSettings,
  type AutoscaleSignals,
  decideScale,
  mean,
  THRESHOLDS,
} from './autoscale.js';
import type { WorkerHandle } from './handle.js';
import type { Listener } from './listener.js';
import { decideMemory, MEMORY_SAMPLES, type MemoryVerdict } from './memory.js';

/** The settings of autoscaling and memory recycling (seconds and bytes, as the schema has them). */
export interface AdaptOptions {
  autoscale: boolean;
  minWorkers: number;
  /**
   * The autoscaler's ceiling: --max-workers when it is given, else twice the CPUs (or the worker
   * count, if higher). The manual ceiling (`+`, TTIN) stays --max-workers; its default of 64 is
   * no bound for a rule that adds workers while a CPU-bound pool stays busy.
   */
  maxWorkers: number;
  /** Seconds of saturation before workers are added. */
  scaleUpAfter: number;
  /** Seconds of quiet before one worker is removed. */
  scaleDownAfter: number;
  /** Seconds after any change before the next one. */
  scaleCooldown: number;
  /** RSS limit per worker in bytes; null: no memory recycling. */
  maxWorkerMemory: number | null;
  /** Seconds a worker serves before it may be recycled for memory. */
  minWorkerAge: number;
}

export const ADAPT_DEFAULTS: AdaptOptions = {
  autoscale: false,
  minWorkers: 1,
  maxWorkers: 64,
  scaleUpAfter: 3,
  scaleDownAfter: 30,
  scaleCooldown: 5,
  maxWorkerMemory: null,
  minWorkerAge: 60,
};

/** Utilization per sample is read over this much of each worker's recent heartbeats. */
const SIGNAL_WINDOW_MS = 2000;
/** Samples are kept this much longer than the longer window. */
const HISTORY_SLACK_MS = 5000;

/** The last change autoscale made. */
export interface AutoscaleChange {
  /** Wall-clock ms. */
  at: number;
  from: number;
  to: number;
  direction: 'up' | 'down';
  reason: string;
}

/** Autoscaling as the views show it. */
export interface AutoscaleState {
  enabled: boolean;
  min: number;
  max: number;
  upAfterS: number;
  downAfterS: number;
  cooldownS: number;
  /** The latest sample: utilization over the last 2 s, the accept queue, event-loop lag. */
  signals: { utilization: number | null; queued: number | null; lagMs: number | null } | null;
  /** Why the queue is not known, when it is not (a unix socket). */
  queueNote: string | null;
  /** What the rule says now ("steady: utilization 0.41", "cooling down ..."), or "off". */
  status: string;
  last: AutoscaleChange | null;
}

/** Memory recycling as the views show it; null in the snapshot when it is off. */
export interface MemoryState {
  limitBytes: number;
  samples: number;
  minAgeS: number;
  /** The last worker recycled for memory. */
  last: { at: number; slot: number; pid: number; rssBytes: number; why: string } | null;
}

/** What the arbiter tells the adapter each step. */
export interface AdaptFacts {
  now: number;
  target: number;
  /** The manual ceiling (--max-workers); the autoscaler stays at or under it too. */
  maxWorkers: number;
  reloading: boolean;
  workers: readonly WorkerHandle[];
  sockets: readonly Listener[];
  /** The usage poll read fresh RSS values this step. */
  freshUsage: boolean;
}

export class Adapter {
  enabled: boolean;
  private samples: AutoscaleSample[] = [];
  private readonly rss = new Map<number, number[]>();
  /** Each listener's socket inode, looked up once (a reload's new sockets get their own). */
  private readonly inodes = new WeakMap<Listener, string | null>();
  private lastChangeAt: number | null = null;
  private last: AutoscaleChange | null = null;
  private lastRecycle: MemoryState['last'] = null;
  private status = 'off';
  private queueNote: string | null = null;

  constructor(private options: AdaptOptions) {
    this.enabled = options.autoscale;
  }

  /** New options (a reload): the autoscale switch follows the config only when the config changed it. */
  reconfigure(next: AdaptOptions): void {
    if (next.autoscale !== this.options.autoscale) this.enabled = next.autoscale;
    this.options = next;
  }

  /** The wanted count changed (by autoscale or by hand): the cool-down starts now. */
  changed(now: number): void {
    this.lastChangeAt = now;
  }

  /** Samples the signals and asks the autoscale rule; returns the change to make, if any. */
  scaleStep(f: AdaptFacts): Extract<AutoscaleDecision, { do: 'scale' }> | null {
    this.sample(f);
    if (!this.enabled) {
      this.status = 'off';
      return null;
    }
    const decision = decideScale({
      now: f.now,
      current: f.target,
      samples: this.samples,
      lastChangeAt: this.lastChangeAt,
      reloading: f.reloading,
      settings: this.settings(f.maxWorkers),
    });
    if (decision.do === 'hold') {
      this.status = decision.why;
      return null;
    }
    this.status = `scaled ${decision.direction}`;
    this.last = {
      at: Date.now(),
      from: decision.from,
      to: decision.to,
      direction: decision.direction,
      reason: decision.reason,
    };
    return decision;
  }

  /** Records each worker's RSS reading and asks the memory rule; the worker to recycle, if any. */
  memoryStep(f: AdaptFacts): MemoryVerdict | null {
    const limit = this.options.maxWorkerMemory;
    const live = new Set(f.workers.map((w) => w.id));
    for (const id of this.rss.keys()) if (!live.has(id)) this.rss.delete(id);
    if (limit === null) return null;
    if (f.freshUsage) {
      for (const w of f.workers) {
        if (w.rss === null) continue;
        const readings = this.rss.get(w.id) ?? [];
        readings.push(w.rss);
        if (readings.length > MEMORY_SAMPLES) readings.shift();
        this.rss.set(w.id, readings);
      }
    }
    const verdict = decideMemory({
      now: f.now,
      limitBytes: limit,
      samples: MEMORY_SAMPLES,
      minAgeMs: this.options.minWorkerAge * 1000,
      reloading: f.reloading,
      workers: f.workers.map((w) => ({
        id: w.id,
        slot: w.slot,
        pid: w.pid,
        state: w.state,
        recycling: w.recycling,
        readyAt: w.readyAt,
        rss: this.rss.get(w.id) ?? [],
      })),
    });
    if (verdict) {
      this.lastRecycle = {
        at: Date.now(),
        slot: verdict.slot,
        pid: verdict.pid,
        rssBytes: verdict.rssBytes,
        why: verdict.why,
      };
      // Its readings are spent: a worker refused the recycle (gone meanwhile) starts again.
      this.rss.delete(verdict.id);
    }
    return verdict;
  }

  /** The autoscaler's bounds under the pool's manual ceiling. */
  bounds(maxWorkers: number): { min: number; max: number } {
    const max = Math.min(this.options.maxWorkers, maxWorkers);
    return { min: Math.min(this.options.minWorkers, max), max };
  }

  /** Autoscaling as the snapshot shows it. */
  autoscaleState(maxWorkers: number): AutoscaleState {
    const o = this.options;
    const latest = this.samples[this.samples.length - 1];
    return {
      enabled: this.enabled,
      ...this.bounds(maxWorkers),
      upAfterS: o.scaleUpAfter,
      downAfterS: o.scaleDownAfter,
      cooldownS: o.scaleCooldown,
      signals: latest
        ? { utilization: latest.utilization, queued: latest.queued, lagMs: latest.lagMs }
        : null,
      queueNote: this.queueNote,
      status: this.enabled ? this.status : 'off',
      last: this.last,
    };
  }

  /** Memory recycling as the snapshot shows it, or null when it is off. */
  memoryState(): MemoryState | null {
    const limit = this.options.maxWorkerMemory;
    if (limit === null) return null;
    return {
      limitBytes: limit,
      samples: MEMORY_SAMPLES,
      minAgeS: this.options.minWorkerAge,
      last: this.lastRecycle,
    };
  }

  private settings(maxWorkers: number): AutoscaleSettings {
    const o = this.options;
    return {
      ...this.bounds(maxWorkers),
      upAfterMs: o.scaleUpAfter * 1000,
      downAfterMs: o.scaleDownAfter * 1000,
      cooldownMs: o.scaleCooldown * 1000,
      ...THRESHOLDS,
    };
  }

  private sample(f: AdaptFacts): void {
    const ready = f.workers.filter((w) => w.state === 'ready');
    const utilization = mean(ready.map((w) => w.utilizationOver(SIGNAL_WINDOW_MS, f.now)));
    const lagMs = mean(ready.map((w) => w.stats?.lagMs.max ?? null));
    const serving = ready.filter((w) => !w.recycling).length;
    const starting = f.workers.some((w) => w.state === 'spawning' || w.state === 'booting');
    this.samples.push({
      at: f.now,
      utilization: utilization === null ? null : Math.round(utilization * 1000) / 1000,
      queued: this.queued(f.sockets),
      lagMs: lagMs === null ? null : Math.round(lagMs * 10) / 10,
      settled: !f.reloading && !starting && serving === f.target,
    });
    const keep = Math.max(this.options.scaleUpAfter, this.options.scaleDownAfter) * 1000;
    const from = f.now - keep - HISTORY_SLACK_MS;
    while ((this.samples[0]?.at ?? f.now) < from) this.samples.shift();
  }

  /** Connections waiting in every TCP listener's accept queue; null when none can be read. */
  private queued(sockets: readonly Listener[]): number | null {
    let total: number | null = null;
    let unix = false;
    for (const l of sockets) {
      if (l.spec.kind === 'unix') {
        unix = true;
        continue;
      }
      if (!this.inodes.has(l)) this.inodes.set(l, socketInode(l.fd));
      const inode = this.inodes.get(l);
      const q = inode ? acceptQueue(inode) : null;
      if (q !== null) total = (total ?? 0) + q;
    }
    this.queueNote = unix
      ? 'unix sockets: not counted (/proc/net/unix has no queue length)'
      : total === null
        ? 'not measurable here (no /proc/net/tcp row for the socket)'
        : null;
    return total;
  }
}

/** The signals of a decision, for its event. */
export type { AutoscaleSignals };
