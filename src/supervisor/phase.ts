// Runs in the supervisor: the pool's phase, one value with a table of allowed moves, like the
// worker's lifecycle. What belongs to a phase (the reload run, the kind of stop) lives inside it.

import type { PlanReload } from './plan.js';

export interface ReloadResult {
  ok: boolean;
  message: string;
}

/** A reload underway: `run` is null while the config file is being re-read. */
export interface ReloadRun extends PlanReload {
  startedAt: number;
  /** How many workers it replaces, for progress. */
  oldTotal: number;
  /** Why it runs with this many workers (null: the count did not move). */
  count: string | null;
  waiters: Array<(r: ReloadResult) => void>;
}

export type Phase =
  | { is: 'starting' }
  | { is: 'running' }
  | {
      is: 'reloading';
      run: ReloadRun | null;
      /** Reloads asked for while this one runs: they coalesce into one more run after it. */
      queued: Array<(r: ReloadResult) => void> | null;
    }
  | { is: 'stopping'; quick: boolean }
  | { is: 'stopped' };

export type PhaseName = Phase['is'];

/** Which phase moves are legal. A graceful stop may still turn quick; nothing leaves `stopped`. */
const MOVES: Record<PhaseName, PhaseName[]> = {
  starting: ['running', 'stopped'],
  running: ['reloading', 'stopping'],
  reloading: ['running', 'stopping'],
  stopping: ['stopping', 'stopped'],
  stopped: [],
};

/** True when the pool may move from `from` to `to`. */
export function canMove(from: PhaseName, to: PhaseName): boolean {
  return MOVES[from].includes(to);
}
