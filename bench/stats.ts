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

/**
 * How far the median of `values` can be trusted: the middle `level` of the medians of `resamples`
 * bootstrap resamples (drawn with replacement, as many as there are values). The generator is
 * seeded, so the same values give the same interval. Pure; unit-tested.
 */
export function medianInterval(
  values: readonly number[],
  { level = 0.9, resamples = 2000, seed = 1 } = {},
): { low: number; high: number } {
  if (values.length === 0) return { low: Number.NaN, high: Number.NaN };
  // Park and Miller's minimal standard generator: small, seeded, good enough to resample.
  let state = seed;
  const next = () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
  const medians: number[] = [];
  const draw = new Array<number>(values.length);
  for (let k = 0; k < resamples; k++) {
    for (let i = 0; i < values.length; i++)
      draw[i] = values[Math.floor(next() * values.length)] ?? Number.NaN;
    medians.push(median(draw));
  }
  medians.sort((a, b) => a - b);
  const tail = Math.floor(((1 - level) / 2) * resamples);
  return { low: medians[tail] ?? Number.NaN, high: medians[resamples - 1 - tail] ?? Number.NaN };
}
