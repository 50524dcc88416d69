// `npm run bench:upgrade`: failed requests over K upgrades of gsup itself (USR2's command, sent
// over the control socket; its reply comes when the new gsup has taken over) under wrk keep-alive
// load, and how long each upgrade took. Each upgrade is waited for before the next one starts;
// the next one is answered by the new supervisor, on the control socket it took over.

import { parseArgs } from 'node:util';
import { UsageError } from '../harness/args.js';
import { sleep } from '../harness/wait.js';
import { controlRequest } from './control.js';
import { options as readOptions, runMain } from './main.js';
import { killAll, startServer, stopServer } from './process.js';
import { environment, save, shellLine } from './results.js';
import { gsupArgv } from './setups.js';
import { killWrk, startWrk, wrkCommand, wrkVersion } from './wrk.js';

const USAGE = `Usage: npm run bench:upgrade -- [options]

Counts the requests that fail while gsup upgrades itself (a new gsup inherits the sockets, boots
its workers, takes over; the old one drains and exits) under wrk keep-alive load on 127.0.0.1,
serving the hello app. Each upgrade is waited for before the next one starts.

  --workers N          workers (default 2)
  --upgrades K         upgrades in the run (default 5)
  --connections C      wrk -c (default 16)
  -h, --help           this text`;

interface UpgradeOptions {
  help: boolean;
  workers: number;
  upgrades: number;
  connections: number;
  threads: number;
}

function parse(argv: string[]): UpgradeOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      upgrades: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (flag: string, value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(`${flag}: expected a whole number from 1, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  return {
    help: values.help,
    workers: int('--workers', values.workers),
    upgrades: int('--upgrades', values.upgrades),
    connections: int('--connections', values.connections),
    threads: 1,
  };
}

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:upgrade', argv, parse, USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  const env = environment(wrkVersion());
  console.log(`gsup bench:upgrade: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const server = await startServer('gsup', gsupArgv(options.workers));
  const took: number[] = [];
  const pids: number[] = [server.child.pid ?? 0];
  let result: Awaited<ReturnType<ReturnType<typeof startWrk>['stop']>>;
  const t0 = Date.now();
  try {
    const wrk = startWrk(
      wrkCommand({ ...options, duration: 600, mode: 'keep-alive', port: server.port }),
    );
    // A fixed second of steady load before the first upgrade and after the last.
    await sleep(1000);
    for (let i = 0; i < options.upgrades; i++) {
      const started = Date.now();
      const r = await controlRequest<{ newPid: number }>(server.runtimeDir, { cmd: 'upgrade' });
      took.push((Date.now() - started) / 1000);
      pids.push(r.newPid);
      console.log(
        `  upgrade ${i + 1}/${options.upgrades}: pid ${pids.at(-2)} → ${r.newPid} in ${took.at(-1)?.toFixed(1)} s`,
      );
    }
    await sleep(1000);
    result = await wrk.stop();
  } finally {
    // The last new gsup is in the first one's process group: stopping the group stops it.
    await stopServer(server);
  }
  const failed = result.socketErrors + result.non2xx;
  console.log(
    `\n${options.upgrades} upgrades in ${((Date.now() - t0) / 1000).toFixed(1)} s, N=${options.workers}, ` +
      `wrk -t1 -c${options.connections} keep-alive: ${result.requests.toLocaleString('en-US')} requests, ` +
      `${failed} failed (${result.socketErrors} socket errors, ${result.non2xx} non-2xx); ` +
      `each upgrade ${Math.min(...took).toFixed(1)}–${Math.max(...took).toFixed(1)} s`,
  );
  const { help: _help, ...settings } = options;
  const file = save(
    {
      environment: env,
      options: settings,
      wrkCommand: shellLine(
        wrkCommand({ ...options, duration: 600, mode: 'keep-alive', port: 'PORT' }),
      ),
      results: { requests: result.requests, failed, upgradeSeconds: took, pids },
    },
    'upgrade',
  );
  console.log(`results: ${file}`);
  return failed === 0 ? 0 : 1;
}

runMain('bench:upgrade', main, () => {
  killWrk();
  killAll();
});
