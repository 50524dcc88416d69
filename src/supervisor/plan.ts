// Runs in the supervisor: the pool's rules as one pure function. Given the workers, the wanted
// count, each slot's backoff, the reload in progress and the time, `planPool` says what to do;
// the arbiter applies it. No processes, no clock, no I/O here, so every rule is unit-tested in
// milliseconds (test/plan.test.ts).

import type { WorkerState } from './snapshot.js';

/** How a worker is being ended, if it is: one value instead of scattered flags. */
export type Ending = 'drain' | 'quit' | 'timeout' | 'boot-timeout' | 'killed';

/** What the rules need to know of one live worker. */
export interface PlanWorker {
  /** Spawn sequence number: lower is older. */
  id: number;
  slot: number;
  /** The reload generation whose code it loaded. */
  gen: number;
  state: WorkerState;
  /** Asked to be replaced (max-requests, `k`): it serves until its successor is ready. */
  recycling: boolean;
  ending: Ending | null;
  spawnedAt: number;
  readyAt: number | null;
  lastHeartbeat: number | null;
  /** SIGKILL at this time if it is still alive (after a stack grace, a quick stop, ...). */
  killAt: number | null;
  /** A draining worker is SIGKILLed after this. */
  drainDeadline: number | null;
}

/** The reload in progress, as the rules see it. */
export interface PlanReload {
  gen: number;
  /** The first new worker has been ready: the others may now be replaced. */
  canaryPassed: boolean;
  /** A new worker failed to boot, with this error: roll back. */
  failed: string | null;
}

export interface PlanInput {
  now: number;
  /** Only a running or reloading pool is managed; timeouts are judged in every phase. */
  managing: boolean;
  target: number;
  workers: readonly PlanWorker[];
  /** Per slot: when it may boot again after failed boots. */
  retryAt: ReadonlyMap<number, number>;
  reload: PlanReload | null;
  /** Seconds without a heartbeat before a ready worker is killed; 0 turns it off. */
  timeoutS: number;
  bootTimeoutS: number;
  /**
   * Judge timeouts now: only on the periodic tick, and not right after the supervisor itself
   * stalled (heartbeats that arrived meanwhile are still unread).
   */
  judge: boolean;
  /** Giving up: no worker was ever ready, and this many boots failed in a row. */
  everReady: boolean;
  bootFailuresInARow: number;
  lastBootError: string | null;
}

export type DrainWhy = 'scaled down' | 'replaced by reload' | 'recycled';

export type Action =
  /** SIGINT for the stuck stack, then SIGKILL after a grace. */
  | { do: 'murder'; id: number; why: 'timeout' | 'boot-timeout'; silentMs: number }
  /** SIGKILL now: a grace ran out, or a drain took too long. */
  | { do: 'kill'; id: number; why: 'grace' | 'drain-overdue' }
  | { do: 'drain'; id: number; why: DrainWhy }
  | { do: 'spawn'; slot: number }
  | { do: 'reload-done' }
  | { do: 'roll-back'; error: string }
  | { do: 'give-up'; error: string };

/** With no worker ever ready, this many boot failures in a row end `gsup start` (exit 3). */
export const BOOT_FAILURES_BEFORE_GIVING_UP = 3;

/** Serving or about to: not draining. */
export function isActive(w: PlanWorker): boolean {
  return w.state === 'spawning' || w.state === 'booting' || w.state === 'ready';
}

/** Loaded the code a reload is replacing. Derived from the generation, never stored. */
export function isOld(w: PlanWorker, reload: PlanReload | null): boolean {
  return reload !== null && w.gen < reload.gen;
}

/** To be replaced (by a reload or a recycle): it serves until a successor is ready. */
export function isStale(w: PlanWorker, reload: PlanReload | null): boolean {
  return w.recycling || isOld(w, reload);
}

/** Every action the pool needs now, in the order to apply them. */
export function planPool(input: PlanInput): Action[] {
  return [...murderWorkers(input), ...manageWorkers(input)];
}

/** Kills workers that are stuck: no heartbeat within timeout, not booted in time, not drained. */
export function murderWorkers(input: PlanInput): Action[] {
  if (!input.judge) return [];
  const { now, timeoutS, bootTimeoutS } = input;
  const actions: Action[] = [];
  for (const w of input.workers) {
    if (w.state === 'exited') continue;
    if (w.killAt !== null && now >= w.killAt) {
      actions.push({ do: 'kill', id: w.id, why: 'grace' });
      continue;
    }
    if (w.ending === 'timeout' || w.ending === 'boot-timeout' || w.ending === 'killed') continue;
    if (
      (w.state === 'spawning' || w.state === 'booting') &&
      now - w.spawnedAt > bootTimeoutS * 1000
    ) {
      actions.push({ do: 'murder', id: w.id, why: 'boot-timeout', silentMs: now - w.spawnedAt });
      continue;
    }
    const heard = w.lastHeartbeat ?? w.readyAt ?? now;
    if (
      (w.state === 'ready' || w.state === 'draining') &&
      timeoutS > 0 &&
      now - heard > timeoutS * 1000
    ) {
      actions.push({ do: 'murder', id: w.id, why: 'timeout', silentMs: now - heard });
      continue;
    }
    if (w.state === 'draining' && w.drainDeadline !== null && now > w.drainDeadline) {
      actions.push({ do: 'kill', id: w.id, why: 'drain-overdue' });
    }
  }
  return actions;
}

/** Retire order: workers not serving yet go first (draining them costs nothing), then the oldest. */
function retireOrder(a: PlanWorker, b: PlanWorker): number {
  const rank = (w: PlanWorker) => (w.state === 'ready' ? 1 : 0);
  return rank(a) - rank(b) || a.id - b.id;
}

/** Moves the pool toward its target: spawn what is missing, drain what is extra or replaced. */
export function manageWorkers(input: PlanInput): Action[] {
  if (!input.managing) return [];
  const { reload, target, now } = input;
  const actions: Action[] = [];
  const live = input.workers.filter((w) => w.state !== 'exited');

  if (reload?.failed) return [{ do: 'roll-back', error: reload.failed }];

  const active = live.filter(isActive);
  const fresh = active.filter((w) => !isStale(w, reload));
  const stale = active.filter((w) => isStale(w, reload));

  // Giving up: the app never booted, and the last few boots all failed with none still trying.
  if (
    !input.everReady &&
    active.length === 0 &&
    input.bootFailuresInARow >= BOOT_FAILURES_BEFORE_GIVING_UP
  ) {
    return [{ do: 'give-up', error: input.lastBootError ?? 'the workers exited before ready' }];
  }

  // Too many: retire the extra ones.
  const extra = [...fresh].sort(retireOrder).slice(0, Math.max(0, fresh.length - target));
  for (const w of extra) actions.push({ do: 'drain', id: w.id, why: 'scaled down' });
  const kept = fresh.filter((w) => !extra.includes(w));

  // Replaced workers leave only as their successors become ready.
  let serving = kept.filter((w) => w.state === 'ready').length + stale.length;
  for (const w of [...stale].sort(retireOrder)) {
    if (serving <= target) break;
    actions.push({ do: 'drain', id: w.id, why: w.recycling ? 'recycled' : 'replaced by reload' });
    serving--;
  }

  // Too few: a successor takes the slot of the worker it replaces, then the lowest free slots.
  // During a reload only one new worker (the canary) boots until one has been ready.
  const missing = Math.max(0, target - kept.length);
  if (missing > 0) {
    const used = new Set(kept.map((w) => w.slot));
    const preferred = [...new Set(stale.sort((a, b) => a.slot - b.slot).map((w) => w.slot))];
    const slots = freeSlots(used, preferred, missing);
    let allowed =
      reload && !reload.canaryPassed
        ? Math.max(0, 1 - kept.filter((w) => w.gen === reload.gen).length)
        : missing;
    for (const slot of slots) {
      if ((input.retryAt.get(slot) ?? 0) > now) continue; // backing off; it still holds its slot
      if (allowed <= 0) break;
      allowed--;
      actions.push({ do: 'spawn', slot });
    }
  }

  // Done when no old worker is left and enough new ones serve.
  if (reload) {
    const oldLeft = live.some((w) => isOld(w, reload));
    const freshReady = kept.filter((w) => w.state === 'ready').length;
    if (!oldLeft && freshReady >= target) actions.push({ do: 'reload-done' });
  }
  return actions;
}

/** `count` slots not in `used`: the preferred ones first, then from 1 upward. */
function freeSlots(used: Set<number>, preferred: number[], count: number): number[] {
  const out: number[] = [];
  const taken = new Set(used);
  for (const s of preferred) {
    if (out.length >= count) break;
    if (!taken.has(s)) {
      out.push(s);
      taken.add(s);
    }
  }
  for (let s = 1; out.length < count; s++) {
    if (!taken.has(s)) {
      out.push(s);
      taken.add(s);
    }
  }
  return out;
}
