// Command-line options of `npm run bench -- [options]`.

import { parseArgs } from 'node:util';

export const USAGE = `Usage: npm run bench -- [options]

Compares one node process, node cluster (round-robin), bare shared-fd workers, PM2 cluster mode,
Gunicorn (sync workers, WSGI) and gsup, serving the same hello app, under wrk keep-alive and
Connection: close load on 127.0.0.1, and draws the medians as an SVG chart.

  --workers N[,N...]   workers per setup, one comparison per value (default 2)
  --rounds R           interleaved rounds; medians are taken over them (default 3)
  --duration S         seconds per wrk run (default 5)
  --warmup S           seconds of unrecorded load after each start, 0 for none (default 1)
  --connections C      wrk -c (default 50)
  --threads T          wrk -t (default 1: on 2 cores wrk must not starve the servers)
  --setups A,B,...     only these setups (default: all; gsup's ratios need gsup in the list)
  --svg FILE           where to write the chart (default docs/benchmarks.svg; "" for none)
  -h, --help           this text`;

export class UsageError extends Error {}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
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
    workers: values.workers.split(',').map((w) => int('--workers', w, 1)),
    rounds: int('--rounds', values.rounds, 1),
    duration: int('--duration', values.duration.replace(/s$/, ''), 1),
    warmup: int('--warmup', values.warmup.replace(/s$/, ''), 0),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
  };
}

/** `text` as an integer ≥ `min`, or a UsageError naming `flag`. */
export function int(flag, text, min) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return n;
}
