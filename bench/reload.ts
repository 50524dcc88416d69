// `npm run bench:reload`: failed requests over K reloads under keep-alive load, for gsup
// (kill -HUP), PM2 (pm2 reload) and Gunicorn (kill -HUP). wrk runs for as long as the K reloads
// take, plus a second before and after; each reload is waited for before the next.

import { UsageError } from '../harness/args.js';
import { sleep } from '../harness/wait.js';
import { options as readOptions, runMain } from './main.js';
import { parseReloadOptions, RELOAD_USAGE, type ReloadOptions } from './options.js';
import { hasPm2, PM2_INSTALL } from './pm2.js';
import { killAll, startServer, stopServer } from './process.js';
import { RELOADERS } from './reloaders.js';
import { environment, save, shellLine } from './results.js';
import { SETUPS, type Setup } from './setups.js';
import { killWrk, startWrk, type WrkResult, wrkCommand, wrkVersion } from './wrk.js';

/** The options, with every setup one we know how to reload. */
function parse(argv: string[]): ReloadOptions {
  const options = parseReloadOptions(argv);
  const unknown = options.setups.filter((s) => !RELOADERS[s]);
  if (unknown.length) throw new UsageError(`--setups: unknown ${unknown.join(', ')}`);
  return options;
}

type Run = { round: number; setup: string } & Awaited<ReturnType<typeof measure>>;

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:reload', argv, parse, RELOAD_USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  if (options.setups.includes('pm2') && !hasPm2()) {
    console.error(`bench:reload: ${PM2_INSTALL}`);
    return 1;
  }
  const env = environment(wrkVersion());
  console.log(`gsup bench:reload: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const setups = SETUPS.filter((s) => options.setups.includes(s.name));
  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const shift = (round - 1) % setups.length;
    for (const setup of [...setups.slice(shift), ...setups.slice(0, shift)]) {
      const run = await measure(setup, options);
      runs.push({ round, setup: setup.name, ...run });
      console.log(
        `  round ${round}/${options.rounds}  ${setup.name.padEnd(8)} ${options.reloads} reloads in ` +
          `${run.seconds.toFixed(1)} s  ${run.wrk.requests.toLocaleString('en-US')} requests  ` +
          `${run.failed} failed (${run.wrk.socketErrors} socket errors, ${run.wrk.non2xx} non-2xx)`,
      );
    }
  }
  const rows = setups.map((s) => {
    const mine = runs.filter((r) => r.setup === s.name);
    return {
      setup: s.name,
      how: RELOADERS[s.name]?.how ?? '',
      reloads: mine.length * options.reloads,
      requests: mine.reduce((n, r) => n + r.wrk.requests, 0),
      failed: mine.reduce((n, r) => n + r.failed, 0),
      failedPerRun: mine.map((r) => r.failed),
    };
  });
  console.log(table(options, rows));
  const { help: _help, ...settings } = options;
  const file = save(
    {
      environment: env,
      options: settings,
      wrkCommand: shellLine(
        wrkCommand({ ...options, duration: 600, mode: 'keep-alive', port: 'PORT' }),
      ),
      results: rows,
      runs,
    },
    'reload',
  );
  console.log(`\nresults: ${file}`);
  return 0;
}

async function measure(
  setup: Setup,
  options: ReloadOptions,
): Promise<{ seconds: number; wrk: WrkResult; failed: number }> {
  const server = await startServer(setup.name, setup.argv(options.workers, options.connections));
  const reloader = RELOADERS[setup.name];
  if (!reloader) throw new Error(`no reloader for ${setup.name}`);
  try {
    const wrk = startWrk(
      wrkCommand({ ...options, duration: 600, mode: 'keep-alive', port: server.port }),
    );
    const t0 = Date.now();
    // A fixed second of steady load before the first reload and after the last.
    await sleep(1000);
    for (let i = 0; i < options.reloads; i++) {
      const { ok, said } = await reloader.reload(server, options.workers);
      if (!ok) throw new Error(`${setup.name}: ${said}`);
    }
    await sleep(1000);
    const result = await wrk.stop();
    return {
      seconds: (Date.now() - t0) / 1000,
      wrk: result,
      failed: result.socketErrors + result.non2xx,
    };
  } finally {
    await stopServer(server);
  }
}

function table(
  options: ReloadOptions,
  rows: Array<{
    setup: string;
    reloads: number;
    requests: number;
    failed: number;
    failedPerRun: number[];
    how: string;
  }>,
): string {
  const lines = [
    '',
    `${options.reloads} reloads per run × ${options.rounds} rounds, N=${options.workers}, ` +
      `wrk -t1 -c${options.connections} keep-alive for the whole run`,
    '',
    'setup     reloads   requests  failed  failed per run  how',
  ];
  for (const r of rows) {
    lines.push(
      `${r.setup.padEnd(8)}  ${String(r.reloads).padStart(7)}  ${r.requests.toLocaleString('en-US').padStart(9)}  ` +
        `${String(r.failed).padStart(6)}  ${r.failedPerRun.join(' ').padEnd(14)}  ${r.how}`,
    );
  }
  return lines.join('\n');
}

runMain('bench:reload', main, () => {
  killWrk();
  killAll();
});
