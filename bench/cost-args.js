// Command-line options of `npm run bench:cost -- [options]`.

import { parseArgs } from 'node:util';
import { int } from './args.js';

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

export function parseCostOptions(argv) {
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
    workers: values.workers.split(',').map((w) => int('--workers', w, 1)),
    rounds: int('--rounds', values.rounds, 1),
    duration: int('--duration', values.duration.replace(/s$/, ''), 1),
    warmup: int('--warmup', values.warmup.replace(/s$/, ''), 0),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
  };
}
