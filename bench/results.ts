// Writes a run's raw and summarised figures to bench/results/ (gitignored), with what is needed
// to compare runs later: when, on what machine and Node, and the exact load commands.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export { shellLine } from '../harness/shell.js';

const DIR = new URL('./results/', import.meta.url);

/** Where and on what a run was measured. */
export interface Environment {
  date: string;
  node: string;
  nproc: number;
  cpu: string;
  kernel: string;
  wrk: string | null;
  loadAverage: number[];
  gsupCommit: string | null;
  uncommittedChanges: boolean;
}

/** The machine, Node, wrk and gsup commit of this run. */
export function environment(wrkVersion: string | null): Environment {
  return {
    date: new Date().toISOString(),
    node: process.version,
    nproc: nproc(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    wrk: wrkVersion,
    // Other work on the machine skews every figure: recorded so a reader can judge the run.
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    gsupCommit: git(['rev-parse', '--short', 'HEAD']),
    // gsup runs from dist/, built from the working tree, which may differ from the commit.
    uncommittedChanges: git(['status', '--porcelain', '--', 'src']) !== '',
  };
}

/** Writes `report` as JSON, named `<prefix>-<date>.json`; returns the file's path. */
export function save<T extends { environment: Environment }>(report: T, prefix = 'bench'): string {
  mkdirSync(DIR, { recursive: true });
  const file = new URL(`${prefix}-${report.environment.date.replace(/[:.]/g, '-')}.json`, DIR);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file.pathname;
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

function git(args: string[]): string | null {
  try {
    const cwd = new URL('..', import.meta.url);
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}
