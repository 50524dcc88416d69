// Reduces the rounds of one setup and mode to the figures reported.

import type { WrkResult } from './wrk.js';

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

/** The figures of one setup and mode over its rounds. */
export interface Summary {
  rounds: number;
  rps: { median: number; min: number; max: number };
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
}

/** Median, min and max req/s, median p50 and p99 and total errors over the rounds. */
export function summarise(runs: WrkResult[]): Summary {
  const rps = runs.map((r) => r.rps);
  return {
    rounds: runs.length,
    rps: { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) },
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    socketErrors: runs.reduce((sum, r) => sum + r.socketErrors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
  };
}
