// Runs in the supervisor: the autoscaling rule as one pure function. Given the pool's recent
// signal samples (utilization, the accept queue, event-loop lag), the current worker count, the
// bounds and windows, the last change and the time, `decideScale` says whether to scale and why.
// No processes, no clock, no I/O here: every case is unit-tested (test/autoscale.test.ts).
//
// The shape follows uWSGI's "cheaper" subsystem (busyness over an interval, a backlog alert, a
// slow step down after idle cycles) with two guards against flapping: a step down happens only
// when the remaining workers would stay under the target utilization, and after every change the
// signals are read afresh from the resized, settled pool (and not before the cool-down).

/** One look at the pool, taken every second or so. */
export interface AutoscaleSample {
  /** Monotonic ms. */
  at: number;
  /** The mean share (0..1) of recent time the ready workers had requests in flight; null: not known yet. */
  utilization: number | null;
  /** Connections waiting in the listening sockets' accept queues; null: not measurable (unix sockets). */
  queued: number | null;
  /** The mean over ready workers of their worst event-loop delay in the last heartbeat, in ms. */
  lagMs: number | null;
  /** Every wanted worker was ready and no reload ran: the signals describe the pool as sized. */
  settled: boolean;
}

/** The bounds, windows and thresholds the rule works with. */
export interface AutoscaleSettings {
  min: number;
  max: number;
  /** Saturation must last this long (ms) before workers are added. */
  upAfterMs: number;
  /** Quiet must last this long (ms) before one worker is removed. */
  downAfterMs: number;
  /** After a change (by autoscale or by hand), no other change for this long (ms). */
  cooldownMs: number;
  /** At or above this mean utilization the pool is saturated. */
  utilizationHigh: number;
  /** At or below this utilization, in every sample, the pool is quiet. */
  utilizationLow: number;
  /** What a scale-up aims for, and what a scale-down must not push the remaining workers above. */
  utilizationTarget: number;
  /** At or above this mean event-loop lag (ms) the pool is saturated; above half of it, not quiet. */
  lagHighMs: number;
}

/** Thresholds that are not settings: why each value, in a line. */
export const THRESHOLDS = {
  // Busy 85 % of the time: a request arriving now likely waits for one already running.
  utilizationHigh: 0.85,
  // Busy under 30 % everywhere: one worker fewer leaves the rest well under the target.
  utilizationLow: 0.3,
  // Aim for 70 % busy: headroom for bursts without idling most of the pool.
  utilizationTarget: 0.7,
  // A loop blocked this long on average between heartbeats delays every request it holds.
  lagHighMs: 250,
} as const;

/** Half or more of the samples in the up window had connections waiting: they queue, not pass. */
const QUEUED_SHARE = 0.5;

export interface AutoscaleInput {
  now: number;
  /** The wanted worker count now. */
  current: number;
  /** Samples, oldest first; kept at least as far back as the longer window. */
  samples: readonly AutoscaleSample[];
  /** When the count last changed (autoscale or by hand); null: never since start. */
  lastChangeAt: number | null;
  /** A reload is running: the pool is being replaced, its signals mean nothing. */
  reloading: boolean;
  settings: AutoscaleSettings;
}

/** The signal values a decision was made on. */
export interface AutoscaleSignals {
  utilization: number | null;
  queued: number | null;
  lagMs: number | null;
  /** The window they were read over, in ms. */
  windowMs: number;
}

export type AutoscaleDecision =
  | { do: 'hold'; why: string }
  | {
      do: 'scale';
      direction: 'up' | 'down';
      from: number;
      to: number;
      /** Why, as one line: "utilization 0.93 over 3 s, 37 connections queued". */
      reason: string;
      signals: AutoscaleSignals;
    };

/** What the autoscaler should do now. */
export function decideScale(input: AutoscaleInput): AutoscaleDecision {
  const { now, current, settings: s } = input;
  if (input.reloading) return hold('a reload is running');
  if (current < s.min) return bound(current, s.min, `below min-workers ${s.min}`);
  if (current > s.max) return bound(current, s.max, `above max-workers ${s.max}`);
  if (input.lastChangeAt !== null && now - input.lastChangeAt < s.cooldownMs) {
    const left = (s.cooldownMs - (now - input.lastChangeAt)) / 1000;
    return hold(`cooling down after the last change (${left.toFixed(1)} s left)`);
  }
  const since = steadySince(input);
  const up = windowOf(input.samples, since, now, s.upAfterMs);
  if (up) {
    const saturated = saturation(up, s);
    if (saturated) {
      if (current >= s.max)
        return hold(`saturated (${saturated.reason}) but at max-workers ${s.max}`);
      const to = Math.min(s.max, Math.max(current + 1, saturated.wants(current)));
      return scale('up', current, to, saturated.reason, signalsOf(up, s.upAfterMs));
    }
  }
  const down = windowOf(input.samples, since, now, s.downAfterMs);
  if (down && current > s.min) {
    const quiet = quietness(down, current, s);
    if (quiet) return scale('down', current, current - 1, quiet, signalsOf(down, s.downAfterMs));
  }
  if (!up) return hold('waiting for the pool to settle');
  const u = mean(up.map((x) => x.utilization));
  return hold(`steady${u === null ? '' : `: utilization ${u.toFixed(2)}`}`);
}

function hold(why: string): AutoscaleDecision {
  return { do: 'hold', why };
}

function scale(
  direction: 'up' | 'down',
  from: number,
  to: number,
  reason: string,
  signals: AutoscaleSignals,
): AutoscaleDecision {
  return { do: 'scale', direction, from, to, reason, signals };
}

function bound(from: number, to: number, reason: string): AutoscaleDecision {
  const signals = { utilization: null, queued: null, lagMs: null, windowMs: 0 };
  return scale(to > from ? 'up' : 'down', from, to, reason, signals);
}

/**
 * Since when the samples describe the pool as it is sized now: after the last change and after
 * the last sample taken while workers were still booting or a reload ran. Before the first
 * sample nothing is known.
 */
function steadySince(input: AutoscaleInput): number {
  let since = input.samples[0]?.at ?? input.now;
  if (input.lastChangeAt !== null) since = Math.max(since, input.lastChangeAt);
  for (const x of input.samples) if (!x.settled) since = Math.max(since, x.at);
  return since;
}

/** The samples of the last `spanMs`, or null when the steady stretch is shorter than that. */
function windowOf(
  samples: readonly AutoscaleSample[],
  since: number,
  now: number,
  spanMs: number,
): AutoscaleSample[] | null {
  if (now - since < spanMs) return null;
  const inside = samples.filter((x) => x.at > now - spanMs && x.at <= now);
  return inside.length > 0 ? inside : null;
}

/** Saturated: why, and how many workers that asks for; null when not saturated. */
function saturation(
  window: AutoscaleSample[],
  s: AutoscaleSettings,
): { reason: string; wants: (n: number) => number } | null {
  const span = seconds(s.upAfterMs);
  const util = mean(window.map((x) => x.utilization));
  const lag = mean(window.map((x) => x.lagMs));
  const measured = window.filter((x) => x.queued !== null);
  const queuedShare =
    measured.length > 0 ? measured.filter((x) => (x.queued ?? 0) > 0).length / window.length : 0;
  const queuedMax = Math.max(0, ...measured.map((x) => x.queued ?? 0));
  const byUtil = util !== null && util >= s.utilizationHigh;
  const byQueue = queuedShare >= QUEUED_SHARE;
  const byLag = lag !== null && lag >= s.lagHighMs;
  if (!byUtil && !byQueue && !byLag) return null;
  const parts: string[] = [];
  if (util !== null) parts.push(`utilization ${util.toFixed(2)} over ${span}`);
  if (byQueue) parts.push(`${queuedMax} connection${queuedMax === 1 ? '' : 's'} queued`);
  if (byLag && lag !== null) parts.push(`event-loop lag ${Math.round(lag)} ms`);
  return {
    reason: parts.join(', '),
    wants: (n) => {
      // Enough workers to bring utilization to the target; twice as many when connections wait,
      // because a saturated pool's utilization (capped at 1) under-states how far behind it is.
      let want = util === null ? n + 1 : Math.ceil((n * util) / s.utilizationTarget);
      if (byQueue) want = Math.max(want, n * 2);
      return want;
    },
  };
}

/** Quiet enough to lose one worker: why, or null. */
function quietness(
  window: AutoscaleSample[],
  current: number,
  s: AutoscaleSettings,
): string | null {
  if (window.some((x) => x.utilization === null || x.utilization > s.utilizationLow)) return null;
  if (window.some((x) => (x.queued ?? 0) > 0)) return null;
  const lag = mean(window.map((x) => x.lagMs));
  if (lag !== null && lag >= s.lagHighMs / 2) return null;
  const util = mean(window.map((x) => x.utilization)) ?? 0;
  // Hysteresis: the remaining workers must stay under the target, or the next look scales back up.
  if ((util * current) / (current - 1) > s.utilizationTarget) return null;
  const queue = window.every((x) => x.queued === null) ? '' : ', nothing queued';
  return `utilization ${util.toFixed(2)} over ${seconds(s.downAfterMs)}${queue}`;
}

function signalsOf(window: AutoscaleSample[], windowMs: number): AutoscaleSignals {
  const measured = window.filter((x) => x.queued !== null);
  return {
    utilization: round(mean(window.map((x) => x.utilization)), 1000),
    queued: measured.length ? Math.max(...measured.map((x) => x.queued ?? 0)) : null,
    lagMs: round(mean(window.map((x) => x.lagMs)), 10),
    windowMs,
  };
}

/** The mean of the known values, or null when none is known. */
export function mean(values: Array<number | null>): number | null {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v === null) continue;
    sum += v;
    n++;
  }
  return n === 0 ? null : sum / n;
}

function round(v: number | null, by: number): number | null {
  return v === null ? null : Math.round(v * by) / by;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
