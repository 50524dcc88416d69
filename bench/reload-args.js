// Command-line options of `npm run bench:reload -- [options]`.

import { parseArgs } from 'node:util';
import { int } from './args.js';

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

export function parseReloadOptions(argv) {
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
