// Command-line options of `npm run bench:pool -- [options]`.

import { parseArgs } from 'node:util';
import { int, UsageError } from './args.js';

export const POOL_MEASURES = ['respawn', 'hang', 'balance', 'scale'];

export const POOL_USAGE = `Usage: npm run bench:pool -- [options]

Times gsup's pool management on 127.0.0.1, from gsup's own log timestamps and its snapshot:
  respawn  SIGKILL a ready worker → the supervisor sees it exit → its replacement is ready
           (4 workers, idle and under wrk keep-alive load)
  hang     a request blocks a worker's event loop → WORKER TIMEOUT → stack logged, worker
           killed → replacement ready (2 workers, -t 2)
  balance  each worker's share of requests (from the snapshot's per-worker counts) and of
           open keep-alive connections (from /proc), under wrk, keep-alive and Connection: close
  scale    scale 1 → 16 over the control socket → all 16 ready

  --only A,B,...       only these measures (default: all four)
  --repeat K           kills, hangs, balance runs or scale-ups per measure (default: 10
                       respawns per condition, 5 hangs, 3 runs per balance case, 3 scale-ups)
  --duration S         seconds of wrk per balance run (default 10)
  -h, --help           this text`;

export function parsePoolOptions(argv) {
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
  const unknown = only.filter((m) => !POOL_MEASURES.includes(m));
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.join(', ')}`);
  return {
    help: values.help,
    only,
    repeat: values.repeat ? int('--repeat', values.repeat, 1) : null,
    duration: int('--duration', values.duration.replace(/s$/, ''), 1),
  };
}
