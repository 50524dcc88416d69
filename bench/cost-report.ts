// Turns the supervisor-cost runs into the summary per configuration, the floor check and the table.

import type { CostOptions } from './options.js';
import type { ProcessSample } from './sampler.js';
import { median } from './stats.js';
import type { WrkResult } from './wrk.js';

/** How gsup ran: headless or with its dashboard in tmux, with how many workers. */
export interface CostConfig {
  mode: string;
  workers: number;
}

/** One measured run of one configuration. */
export type CostRun = CostConfig &
  Omit<ProcessSample, 'rssKb' | 'ticksPerSample'> & { wrk: WrkResult };

export interface CostSummary {
  rounds: number;
  cpuPercent: { median: number; min: number; max: number };
  rssMaxMb: number;
  rps: number;
  errors: number;
}

export type FloorCheck = typeof FLOOR & { cpuOk: boolean; rssOk: boolean; pass: boolean };

/**
 * What the supervisor may cost with the dashboard drawing 16 workers. Informational: printed as
 * PASS/FAIL, never the exit code, since a busy machine can miss it without a regression.
 */
export const FLOOR = { mode: 'dashboard', workers: 16, cpuPercent: 3, rssMb: 100 };

/** Median, min and max CPU %, the highest RSS seen and the load actually served, per config. */
export function summarise(runs: CostRun[]): CostSummary {
  const cpu = runs.map((r) => r.cpuPercent);
  return {
    rounds: runs.length,
    cpuPercent: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
    rssMaxMb: Math.max(...runs.map((r) => r.rssMaxMb)),
    rps: median(runs.map((r) => r.wrk.rps)),
    errors: runs.reduce((sum, r) => sum + r.wrk.socketErrors + r.wrk.non2xx, 0),
  };
}

/** The floor verdict for the one configuration it applies to; null for the others. */
export function floorCheck(config: CostConfig, summary: CostSummary): FloorCheck | null {
  if (config.mode !== FLOOR.mode || config.workers !== FLOOR.workers) return null;
  const cpuOk = summary.cpuPercent.median <= FLOOR.cpuPercent;
  const rssOk = summary.rssMaxMb <= FLOOR.rssMb;
  return { ...FLOOR, cpuOk, rssOk, pass: cpuOk && rssOk };
}

/** The printed table, with the floor verdict under it. */
export function table({
  options,
  rows,
}: {
  options: CostOptions;
  rows: Array<{ config: CostConfig; summary: CostSummary; check: FloorCheck | null }>;
}): string {
  const head = ['mode', 'workers', 'CPU % median', 'min', 'max', 'RSS MB max', 'req/s', 'floor'];
  const body = rows.map(({ config, summary, check }) => [
    config.mode,
    String(config.workers),
    summary.cpuPercent.median.toFixed(2),
    summary.cpuPercent.min.toFixed(2),
    summary.cpuPercent.max.toFixed(2),
    summary.rssMaxMb.toFixed(1),
    Math.round(summary.rps).toLocaleString('en-US') + (summary.errors ? ' (errors!)' : ''),
    check ? (check.pass ? 'PASS' : 'FAIL') : '',
  ]);
  const lines = [
    '',
    `gsup supervisor process only (not its workers), ${options.rounds} interleaved rounds`,
    `CPU: % of one core over ${options.duration}s after ${options.warmup}s warm-up; ` +
      'RSS: max of 1 s samples (MB = MiB)',
    `load: wrk -t${options.threads} -c${options.connections} keep-alive, not rate-limited`,
    '',
    ...columns([head, ...body]),
    '',
  ];
  const check = rows.find((r) => r.check)?.check;
  const floor =
    `floor: with the dashboard at ${FLOOR.workers} workers, ≤ ${FLOOR.cpuPercent} % of one core ` +
    `and ≤ ${FLOOR.rssMb} MB RSS`;
  if (!check) lines.push(`${floor}: not measured (no ${FLOOR.workers}-worker dashboard run)`);
  else {
    const why = [!check.cpuOk && 'CPU over', !check.rssOk && 'RSS over'].filter(Boolean);
    lines.push(`${floor}: ${check.pass ? 'PASS' : `FAIL (${why.join(', ')})`}`);
  }
  return lines.join('\n');
}

/** Left-aligns the two text columns and the verdict, right-aligns the figures. */
function columns(rows: string[][]): string[] {
  const first = rows[0] ?? [];
  const widths = first.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  const left = (i: number) => i < 2 || i === first.length - 1;
  return rows.map((r) =>
    r
      .map((cell, i) => (left(i) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
