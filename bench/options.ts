// Command-line options of every benchmark (`npm run bench`, `bench:cost`, `bench:pool`,
// `bench:reload`, `bench:compare`): each usage text and parser, on the harness's checks.

import { parseArgs } from 'node:util';
import { int, intList, seconds, UsageError } from '../harness/args.js';
import type { Mode } from './wrk.js';

export const USAGE = `Usage: npm run bench -- [options]

Compares one node process, node cluster (round-robin), bare shared-fd workers, PM2 cluster mode,
Gunicorn (sync workers, WSGI) and gsup, serving the same hello app, under wrk keep-alive and
Connection: close load on 127.0.0.1, and draws the medians as an SVG chart.

  --workers N[,N...]   workers per setup, one comparison per value (default 2)
  --rounds R           interleaved rounds; medians are taken over them (default 5)
  --duration S         seconds per wrk run (default 5)
  --warmup S           seconds of unrecorded load after each start, 0 for none (default 1)
  --connections C      wrk -c (default 50)
  --threads T          wrk -t (default 1: on 2 cores wrk must not starve the servers)
  --setups A,B,...     only these setups (default: all; gsup's ratios need gsup in the list)
  --svg FILE           where to write the chart (default docs/benchmarks.svg; "" for none)
  -h, --help           this text`;

export interface BenchOptions {
  setups: string[];
  svg: string;
  help: boolean;
  workers: number[];
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
}

/** Options of `npm run bench`. */
export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      threads: { type: 'string', default: '1' },
      setups: { type: 'string', default: '' },
      svg: { type: 'string', default: new URL('../docs/benchmarks.svg', import.meta.url).pathname },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    setups: values.setups ? values.setups.split(',') : [],
    svg: values.svg,
    help: values.help,
    workers: intList('--workers', values.workers, 1),
    rounds: int('--rounds', values.rounds, 1),
    duration: seconds('--duration', values.duration, 1),
    warmup: seconds('--warmup', values.warmup, 0),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
  };
}

export const COST_USAGE = `Usage: npm run bench:cost -- [options]

Measures the gsup supervisor process's own cost (CPU % of one core, RSS), not its workers',
headless (--no-tui, log to a pipe) and with the dashboard in a real terminal (tmux), under a
wrk keep-alive load on 127.0.0.1.

  --workers N[,N...]   worker counts to measure in each mode (default 4,16)
  --rounds R           interleaved rounds; CPU is the median over them (default 3)
  --duration S         seconds of the measurement window (default 20)
  --warmup S           seconds of load before the window, not counted for CPU (default 5)
  --connections C      wrk -c (default 16)
  --threads T          wrk -t (default 1: on 2 cores wrk must not starve the rest)
  -h, --help           this text`;

export interface CostOptions {
  help: boolean;
  workers: number[];
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  threads: number;
}

/** Options of `npm run bench:cost`. */
export function parseCostOptions(argv: string[]): CostOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '4,16' },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      threads: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    workers: intList('--workers', values.workers, 1),
    rounds: int('--rounds', values.rounds, 1),
    duration: seconds('--duration', values.duration, 1),
    warmup: seconds('--warmup', values.warmup, 0),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
  };
}

export const POOL_MEASURES = ['respawn', 'hang', 'balance', 'scale', 'spread'] as const;
export type PoolMeasure = (typeof POOL_MEASURES)[number];

export const POOL_USAGE = `Usage: npm run bench:pool -- [options]

Times gsup's pool management on 127.0.0.1, from gsup's own event times and its snapshot:
  respawn  SIGKILL a ready worker → the supervisor sees it exit → its replacement is ready
           (4 workers, idle and under wrk keep-alive load)
  hang     a request blocks a worker's event loop → WORKER TIMEOUT → stack logged, worker
           killed → replacement ready (2 workers, -t 2)
  balance  each worker's share of requests (from the snapshot's per-worker counts) and of
           open keep-alive connections (from /proc), under wrk, keep-alive and Connection: close
  scale    scale 1 → 16 over the control socket → all 16 ready
  spread   keep-alive balance: wrk opens 64 connections at once against 2 and 4 workers;
           open connections per worker (from /proc) 5 s later, and 10 s after a scale-up
           by one; balanced (the default) against --no-balance

  --only A,B,...       only these measures (default: all five)
  --repeat K           kills, hangs, balance runs or scale-ups per measure (default: 10
                       respawns per condition, 5 hangs, 3 runs per balance case, 3 scale-ups,
                       3 rounds of spread)
  --duration S         seconds of wrk per balance run (default 10)
  -h, --help           this text`;

export interface PoolOptions {
  help: boolean;
  only: PoolMeasure[];
  repeat: number | null;
  duration: number;
}

const isMeasure = (m: string): m is PoolMeasure => (POOL_MEASURES as readonly string[]).includes(m);

/** Options of `npm run bench:pool`. */
export function parsePoolOptions(argv: string[]): PoolOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: POOL_MEASURES.join(',') },
      repeat: { type: 'string', default: '' },
      duration: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const only = values.only.split(',');
  const unknown = only.filter((m) => !isMeasure(m));
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.join(', ')}`);
  return {
    help: values.help,
    only: only.filter(isMeasure),
    repeat: values.repeat ? int('--repeat', values.repeat, 1) : null,
    duration: seconds('--duration', values.duration, 1),
  };
}

export const RELOAD_USAGE = `Usage: npm run bench:reload -- [options]

Counts the requests that fail while a server reloads its workers under wrk keep-alive load on
127.0.0.1: gsup (kill -HUP), PM2 cluster mode (pm2 reload) and Gunicorn (kill -HUP), serving the
same hello app. Each reload is waited for before the next one starts.

  --workers N          workers per setup (default 2)
  --reloads K          reloads per run (default 10)
  --rounds R           interleaved rounds (default 3)
  --connections C      wrk -c (default 16)
  --setups A,B,...     only these of gsup,pm2,gunicorn (default all three)
  -h, --help           this text`;

export interface ReloadOptions {
  help: boolean;
  workers: number;
  reloads: number;
  rounds: number;
  connections: number;
  threads: number;
  setups: string[];
}

/** Options of `npm run bench:reload`. */
export function parseReloadOptions(argv: string[]): ReloadOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      reloads: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16' },
      setups: { type: 'string', default: 'gsup,pm2,gunicorn' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    workers: int('--workers', values.workers, 1),
    reloads: int('--reloads', values.reloads, 1),
    rounds: int('--rounds', values.rounds, 1),
    connections: int('--connections', values.connections, 1),
    threads: 1,
    setups: values.setups.split(','),
  };
}

export const PAIRED_USAGE = `Usage: npm run bench:paired -- [options]

Starts each setup once, then alternates short wrk runs between them on 127.0.0.1 (the order
reversed every round), and prints per setup: median req/s, the median of the per-round ratios to
the first setup, and what a request cost from /proc: CPU of the workers, of the primary and of
wrk, the workers' context switches, how unevenly the workers shared the CPU, and the idle CPU.
Under the table, each ratio's 90 % interval (bootstrap over the rounds), for req/s and for the
workers' CPU per request: on a noisy machine, run enough rounds that it is narrower than what
you want to tell apart.

  --setups A,B,...     setups to compare, the first is the baseline (default bare,gsup)
  --workers N          workers per setup (default 2)
  --modes M[,M]        keep-alive, close or both (default keep-alive,close)
  --pairs P            rounds per mode (default 10)
  --restart-every K    start every setup afresh every K rounds, 0 for never (default 10): which
                       CPU a process lands on holds for its life, and biases a whole run
  --duration S         seconds per wrk run (default 2)
  --connections C      wrk -c (default 50)
  --threads T          wrk -t (default 1)
  -h, --help           this text`;

export interface PairedOptions {
  help: boolean;
  setups: string[];
  workers: number;
  modes: Mode[];
  pairs: number;
  restartEvery: number;
  duration: number;
  connections: number;
  threads: number;
}

/** Options of `npm run bench:paired`. */
export function parsePairedOptions(argv: string[]): PairedOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      setups: { type: 'string', default: 'bare,gsup' },
      workers: { type: 'string', default: '2' },
      modes: { type: 'string', default: 'keep-alive,close' },
      pairs: { type: 'string', default: '10' },
      'restart-every': { type: 'string', default: '10' },
      duration: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      threads: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const modes = values.modes.split(',');
  const bad = modes.find((m) => m !== 'keep-alive' && m !== 'close');
  if (bad !== undefined) {
    throw new UsageError(`--modes: "${bad}" is not a mode; use keep-alive, close or both`);
  }
  const setups = values.setups.split(',').filter(Boolean);
  if (setups.length < 2)
    throw new UsageError('--setups: name at least two setups, the baseline first');
  return {
    help: values.help,
    setups,
    workers: int('--workers', values.workers, 1),
    modes: modes as Mode[],
    pairs: int('--pairs', values.pairs, 1),
    restartEvery: int('--restart-every', values['restart-every'], 0),
    duration: seconds('--duration', values.duration, 1),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
  };
}
