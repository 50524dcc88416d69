// The pool's metrics as prom-client sees them, read from the supervisor's one model: one snapshot
// per scrape (the workers are never asked anything), plus counters of the typed events (starts,
// exits by reason, timeouts, reloads). prom-client writes the text format; nothing here does.
// Every series is per slot, never per pid: a replaced worker keeps its slot's series going, and
// the slot totals of the snapshot keep exited workers' counts, so no counter ever goes back.

import {
  type CollectFunction,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValueWithName,
  Registry,
} from 'prom-client';
import type { ExitCause, PoolEvent, ReloadOutcome } from '../events.js';
import { BUCKETS, bucketValue } from '../histogram.js';
import type { PoolSnapshot, SlotTotals } from '../supervisor/snapshot.js';

/** What the metrics read: the model, and the typed event stream. */
export interface MetricsSource {
  snapshot(): PoolSnapshot;
  on(event: 'event', listener: (e: PoolEvent) => void): unknown;
}

/** prom-client default metrics that are gauges with a `_total` suffix. */
const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The status classes, in the order of the snapshot's `status` arrays. */
const CODES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * The histogram's upper bounds: 2^k µs for k = 6..26 (64 µs to 67 s), one per doubling. Each is
 * an edge of the workers' own buckets (four per doubling, src/histogram.ts), so every cumulative
 * count is exact, not interpolated.
 */
const DOUBLINGS = Array.from({ length: 21 }, (_, i) => i + 6);
export const LATENCY_BOUNDS_S = DOUBLINGS.map((k) => 2 ** k / 1e6);
/** The worker bucket that ends at 2^k µs is bucket 4k - 1. */
const LAST_BUCKET = DOUBLINGS.map((k) => 4 * k - 1);

/** Why a worker exited, as the `reason` label says it. */
export const EXIT_REASONS = [
  'crash',
  'timeout',
  'boot_failure',
  'boot_timeout',
  'killed',
  'recycle',
  'reload',
  'scale_down',
  'stop',
  'quick_stop',
  'drain',
] as const;
type ExitReason = (typeof EXIT_REASONS)[number];

const CAUSE_REASON: Record<Exclude<ExitCause, 'drained'>, ExitReason> = {
  crashed: 'crash',
  timeout: 'timeout',
  'boot-failed': 'boot_failure',
  'boot-timeout': 'boot_timeout',
  killed: 'killed',
  quit: 'quick_stop',
};

const DRAIN_REASON: Record<Extract<PoolEvent, { type: 'worker-drain' }>['why'], ExitReason> = {
  recycled: 'recycle',
  'replaced by reload': 'reload',
  'scaled down': 'scale_down',
};

/** How a reload ended, as the `result` label says it. */
const RELOAD_RESULT: Record<ReloadOutcome, string> = {
  done: 'done',
  'rolled-back': 'rolled_back',
  abandoned: 'abandoned',
  refused: 'refused',
  'not-started': 'not_started',
};

/** One registry per supervisor: `scrape()` reads the model once and renders every metric. */
export class PoolMetrics {
  readonly registry = new Registry();
  /** The snapshot of the scrape in progress: every collector reads this one. */
  private current: PoolSnapshot | null = null;
  /** Why each draining worker drains (from worker-drain events), until it exits. */
  private readonly drainWhy = new Map<number, ExitReason>();

  constructor(private readonly source: MetricsSource) {
    const registers = [this.registry];
    // The supervisor's own process: prom-client's default metrics, under their standard names
    // (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*), which dashboards
    // and alerts for any exporter already know; the job and instance labels say it is gsup.
    // Its event-loop monitor keeps prom-client's 10 ms sampling: Node's monitor reports its own
    // sampling period as delay, so a coarser one would make nodejs_eventloop_lag_* read unlike
    // every other Node service's (at 100 ms an idle supervisor showed p99 0.12 s). The 100
    // wake-ups a second cost an idle supervisor about 0.4% of a core (docs/metrics.md).
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which `promtool check metrics` flags; the same counts stay
    // under nodejs_active_handles, nodejs_active_requests and nodejs_active_resources by type.
    for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);

    const snap = () => this.snapshot();
    const perSlot = (
      set: (slot: string, value: number) => void,
      pick: (s: SlotTotals) => number,
    ) => {
      for (const s of snap().slots) set(String(s.slot), pick(s));
    };

    // ---- traffic, from the slot totals: lasting across replacements -------------------------
    new Counter({
      name: 'gsup_http_requests_total',
      help: 'HTTP responses the workers finished, by status class and worker slot',
      labelNames: ['code', 'slot'],
      registers,
      collect: lasting(function (this: Counter<'code' | 'slot'>) {
        for (const s of snap().slots) {
          CODES.forEach((code, i) => {
            this.inc({ code, slot: String(s.slot) }, s.status[i] ?? 0);
          });
        }
      }),
    });
    new Counter({
      name: 'gsup_worker_busy_seconds_total',
      help: 'Seconds the workers of a slot spent with at least one request in flight',
      labelNames: ['slot'],
      registers,
      collect: lasting(function (this: Counter<'slot'>) {
        perSlot(
          (slot, v) => this.inc({ slot }, v),
          (s) => s.busyMs / 1000,
        );
      }),
    });
    new Counter({
      name: 'gsup_worker_cpu_seconds_total',
      help: 'CPU time (user and system) of the workers of a slot, read every second',
      labelNames: ['slot'],
      registers,
      collect: lasting(function (this: Counter<'slot'>) {
        perSlot(
          (slot, v) => this.inc({ slot }, v),
          (s) => s.cpuSeconds,
        );
      }),
    });
    new SlotLatency(snap, registers);

    // ---- the live workers, per slot (a slot briefly has two while one replaces the other) ----
    const perLiveSlot = (
      gauge: Gauge<'slot'>,
      pick: (w: PoolSnapshot['workers'][number]) => number | null,
      combine: (a: number, b: number) => number,
    ) => {
      const bySlot = new Map<number, number>();
      for (const w of snap().workers) {
        const v = pick(w);
        if (v === null) continue;
        const was = bySlot.get(w.slot);
        bySlot.set(w.slot, was === undefined ? v : combine(was, v));
      }
      gauge.reset();
      for (const [slot, v] of bySlot) gauge.set({ slot: String(slot) }, v);
    };
    const sum = (a: number, b: number) => a + b;
    new Gauge({
      name: 'gsup_http_requests_in_flight',
      help: 'Requests a slot has started and not yet answered',
      labelNames: ['slot'],
      registers,
      collect() {
        perLiveSlot(this, (w) => w.inFlight, sum);
      },
    });
    new Gauge({
      name: 'gsup_worker_event_loop_lag_seconds',
      help: "The worst event-loop delay of a slot's worker in its last heartbeat interval",
      labelNames: ['slot'],
      registers,
      collect() {
        perLiveSlot(this, (w) => (w.lagMs === null ? null : w.lagMs / 1000), Math.max);
      },
    });
    new Gauge({
      name: 'gsup_worker_resident_memory_bytes',
      help: 'Resident memory (RSS) of the workers of a slot',
      labelNames: ['slot'],
      registers,
      collect() {
        perLiveSlot(this, (w) => w.rss, sum);
      },
    });

    // ---- the pool ----------------------------------------------------------------------------
    new Gauge({
      name: 'gsup_workers_wanted',
      help: 'Workers the pool is meant to have',
      registers,
      collect() {
        this.set(snap().target);
      },
    });
    new Gauge({
      name: 'gsup_workers_ready',
      help: 'Workers ready to serve',
      registers,
      collect() {
        this.set(snap().ready);
      },
    });
    new Gauge({
      name: 'gsup_workers_live',
      help: 'Worker processes alive: booting, ready or draining',
      registers,
      collect() {
        this.set(snap().live);
      },
    });
    new Gauge({
      name: 'gsup_pool_utilization_ratio',
      help: 'Mean share (0 to 1) of the last 10 s the ready workers spent with requests in flight; absent until known',
      registers,
      collect() {
        const u = snap().utilization;
        this.reset();
        if (u === null) this.remove();
        else this.set(u);
      },
    });

    // ---- what happened, counted from the typed events ----------------------------------------
    const starts = new Counter({
      name: 'gsup_worker_starts_total',
      help: 'Worker processes started',
      registers,
    });
    const exits = new Counter({
      name: 'gsup_worker_exits_total',
      help: 'Worker processes that exited, by reason',
      labelNames: ['reason'],
      registers,
    });
    const timeouts = new Counter({
      name: 'gsup_worker_timeouts_total',
      help: 'Workers killed for sending no heartbeat within --timeout (a blocked event loop)',
      registers,
    });
    const reloads = new Counter({
      name: 'gsup_reloads_total',
      help: 'Reloads that ended, by result',
      labelNames: ['result'],
      registers,
    });
    // Every label value from zero, so rate() and increase() see the first one.
    for (const reason of EXIT_REASONS) exits.inc({ reason }, 0);
    for (const result of Object.values(RELOAD_RESULT)) reloads.inc({ result }, 0);

    source.on('event', (e) => {
      switch (e.type) {
        case 'worker-spawn':
          starts.inc();
          break;
        case 'worker-drain':
          this.drainWhy.set(e.pid, DRAIN_REASON[e.why]);
          break;
        case 'worker-exit': {
          exits.inc({ reason: this.exitReason(e) });
          this.drainWhy.delete(e.pid);
          break;
        }
        case 'worker-timeout':
          timeouts.inc();
          break;
        case 'reload-end':
          reloads.inc({ result: RELOAD_RESULT[e.outcome] });
          break;
      }
    });
  }

  /** The metrics in Prometheus' text format, from one fresh snapshot of the pool. */
  async scrape(): Promise<string> {
    this.current = this.source.snapshot();
    try {
      return await this.registry.metrics();
    } finally {
      this.current = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private snapshot(): PoolSnapshot {
    // A collector read outside scrape() (registry.metrics() called directly) takes its own.
    return this.current ?? this.source.snapshot();
  }

  private exitReason(e: Extract<PoolEvent, { type: 'worker-exit' }>): ExitReason {
    if (e.cause !== 'drained') return CAUSE_REASON[e.cause];
    return this.drainWhy.get(e.pid) ?? (e.stopping ? 'stop' : 'drain');
  }
}

/**
 * A counter whose value is a lasting total kept by the model: each scrape sets it afresh (reset,
 * then inc by the total), which is prom-client's way to export a count someone else keeps.
 */
function lasting<T extends string>(fill: (this: Counter<T>) => void): CollectFunction<Counter<T>> {
  return function (this: Counter<T>) {
    this.reset();
    fill.call(this);
  };
}

const LATENCY_HELP =
  'Time from request to finished response, as each worker measured it, by worker slot (_sum from bucket midpoints)';

/**
 * gsup_http_request_duration_seconds: a histogram per slot, made from the cumulative bucket counts
 * of the workers' own latency histograms (kept by the model across replacements). prom-client's
 * Histogram counts observations one at a time; here the counts exist already, so this one hands
 * prom-client the bucket values and prom-client writes them.
 */
class SlotLatency extends Histogram<'slot'> {
  constructor(
    private readonly snap: () => PoolSnapshot,
    registers: Registry[],
  ) {
    super({
      name: 'gsup_http_request_duration_seconds',
      help: LATENCY_HELP,
      labelNames: ['slot'],
      buckets: LATENCY_BOUNDS_S,
      registers,
    });
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<'slot' | 'le'>>> {
    const values: Array<MetricValueWithName<'slot' | 'le'>> = [];
    const name = 'gsup_http_request_duration_seconds';
    for (const s of this.snap().slots) {
      const slot = String(s.slot);
      const dense = new Float64Array(BUCKETS);
      let count = 0;
      let sum = 0;
      for (const [b, n] of s.latency) {
        dense[b] = n;
        count += n;
        sum += (n * bucketValue(b)) / 1000;
      }
      let cumulative = 0;
      let next = 0;
      LATENCY_BOUNDS_S.forEach((le, i) => {
        const last = LAST_BUCKET[i] ?? 0;
        for (; next <= last; next++) cumulative += dense[next] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { slot, le }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { slot, le: '+Inf' }, value: count });
      values.push({ metricName: `${name}_sum`, labels: { slot }, value: sum });
      values.push({ metricName: `${name}_count`, labels: { slot }, value: count });
    }
    const family = { name, help: LATENCY_HELP, type: 'histogram', values, aggregator: 'sum' };
    return family as unknown as MetricObjectWithValues<MetricValueWithName<'slot' | 'le'>>;
  }

  /** What the registry reads when it writes the text format. */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'slot' | 'le'>>> {
    return this.get();
  }
}
