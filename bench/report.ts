// Turns the summaries of one worker count into the printed table and the ratio checks.

import type { BenchOptions } from './options.js';
import { median, medianInterval, type Summary } from './stats.js';
import type { Mode } from './wrk.js';

/** Per setup name, per mode, the summary of its rounds. */
export type Summaries = Record<string, Record<Mode, Summary>>;

/**
 * Whether a ratio reached its floor. With rounds, it is decided by the 90 % interval of the
 * per-round ratio's median: `pass` if the whole interval is at or above the floor, `fail` if it
 * is all below, `undecided` if it holds the floor (this run's noise is wider than the question).
 * Without rounds, by the ratio of the medians alone. null: the ratio has no floor.
 */
export type Verdict = 'pass' | 'fail' | 'undecided' | null;

/** gsup's req/s over one baseline's, with the floor it must reach if any. */
export interface RatioCheck {
  mode: Mode;
  ratio: string;
  value: number;
  floor: number | null;
  verdict: Verdict;
  /**
   * The same ratio taken round by round (each round runs every setup once): median, min, max,
   * and the 90 % bootstrap interval of the median.
   */
  perRound?: { median: number; min: number; max: number; low: number; high: number };
}

/** Per setup name, per mode, its req/s in each round, in round order. */
export type Rounds = Record<string, Partial<Record<Mode, number[]>>>;

/**
 * What gsup must reach against baselines measured in the same run (issue 11: 0.97× bare), by
 * ratio. Informational: printed as PASS, FAIL or UNDECIDED (`Verdict`), never the exit code,
 * since a busy machine can miss them without a regression. gsup ÷ bare-even (bare with gsup's even keep-alive spread) is
 * printed without a floor: it says whether the spread, rather than the request path, makes a
 * difference (docs/benchmarks.md, section 1).
 */
const FLOORS: Record<Mode, Record<string, number>> = {
  'keep-alive': { 'gsup/bare': 0.97, 'gsup-no-balance/bare': 0.97 },
  close: { 'gsup/bare': 0.97, 'gsup/cluster': 1.4, 'gsup-no-balance/bare': 0.97 },
};

/** The setups gsup is compared with, in the order the ratios are printed. */
const BASELINES = ['single', 'cluster', 'bare', 'bare-even', 'pm2', 'gunicorn'];
/** gsup with keep-alive balance off (bench/setups.ts): its ratio to bare is the request path's cost alone. */
const NO_BALANCE = 'gsup-no-balance';

/**
 * gsup's median req/s over each baseline's measured in the same run, per mode, with the floor
 * check where one exists. Baselines not in this run (--setups) are skipped. Pure; unit-tested.
 */
export function ratios(summaries: Summaries, modes: Mode[], rounds: Rounds = {}): RatioCheck[] {
  const gsup = summaries.gsup;
  const check = (mode: Mode, name: string, baseline: string): RatioCheck[] => {
    const of = summaries[name];
    const base = summaries[baseline];
    if (!of || !base) return [];
    const ratio = `${name}/${baseline}`;
    const value = of[mode].rps.median / base[mode].rps.median;
    const floor = FLOORS[mode][ratio] ?? null;
    const perRound = roundRatios(rounds[name]?.[mode], rounds[baseline]?.[mode]);
    return [
      {
        mode,
        ratio,
        value,
        floor,
        verdict: verdict(floor, value, perRound),
        ...(perRound ? { perRound } : {}),
      },
    ];
  };
  return modes.flatMap((mode) => [
    ...(gsup ? BASELINES.flatMap((b) => check(mode, 'gsup', b)) : []),
    // The request path alone, against the same process model without it.
    ...check(mode, NO_BALANCE, 'bare'),
  ]);
}

function verdict(floor: number | null, value: number, perRound?: RatioCheck['perRound']): Verdict {
  if (floor === null) return null;
  if (!perRound) return value >= floor ? 'pass' : 'fail';
  if (perRound.low >= floor) return 'pass';
  return perRound.high < floor ? 'fail' : 'undecided';
}

/** Round by round ratios of `of` to `base` (the same rounds of each), or undefined without them. */
function roundRatios(
  of: number[] | undefined,
  base: number[] | undefined,
): RatioCheck['perRound'] | undefined {
  if (!of || !base || of.length === 0 || of.length !== base.length) return undefined;
  const each = of.map((v, i) => v / (base[i] ?? Number.NaN));
  const { low, high } = medianInterval(each);
  return { median: median(each), min: Math.min(...each), max: Math.max(...each), low, high };
}

/** The printed table of one worker count, with the ratio lines under it. */
export function table({
  workers,
  options,
  summaries,
  setups,
  modes,
  checks,
}: {
  workers: number;
  options: BenchOptions;
  summaries: Summaries;
  setups: Array<{ name: string }>;
  modes: Mode[];
  checks: RatioCheck[];
}): string {
  const head = ['mode', 'setup', 'req/s median', 'min', 'max', 'p50 ms', 'p99 ms', 'errors'];
  const rows = [];
  for (const mode of modes) {
    for (const { name } of setups) {
      const s = summaries[name]?.[mode];
      if (!s) continue;
      rows.push([
        mode,
        name,
        num(s.rps.median),
        num(s.rps.min),
        num(s.rps.max),
        s.p50Ms.toFixed(2),
        s.p99Ms.toFixed(2),
        errors(s),
      ]);
    }
  }
  const lines = [
    '',
    `N=${workers} workers, median of ${options.rounds} interleaved rounds × ${options.duration}s, ` +
      `wrk -t${options.threads} -c${options.connections}`,
    '',
    ...columns([head, ...rows]),
    '',
  ];
  for (const c of checks) {
    const floor =
      c.floor === null ? '' : `  (floor ${c.floor.toFixed(2)}×)  ${c.verdict?.toUpperCase()}`;
    const r = c.perRound;
    const each = r
      ? `  per round ${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)}), 90 % interval ${r.low.toFixed(2)}–${r.high.toFixed(2)}`
      : '';
    lines.push(
      `${c.mode.padEnd(10)}  ${c.ratio.padEnd(20)}  ${c.value.toFixed(2)}×${floor}${each}`,
    );
  }
  if (checks.some((c) => c.verdict === 'undecided')) {
    lines.push(
      "UNDECIDED: the per-round ratio's 90 % interval holds the floor, so this run cannot tell; more rounds (--rounds 21) narrow it.",
    );
  }
  return lines.join('\n');
}

/** "socket errors + HTTP errors", or 0 when both are 0. */
function errors(s: Summary): string {
  return s.socketErrors + s.non2xx === 0 ? '0' : `${s.socketErrors} sock + ${s.non2xx} http`;
}

function num(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Left-aligns text columns and right-aligns figures. */
function columns(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  '),
  );
}
