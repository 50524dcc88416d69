// `npm run bench:reload`: failed requests over K reloads under keep-alive load, for gsup
// (kill -HUP), PM2 (pm2 reload) and Gunicorn (kill -HUP). wrk runs for as long as the K reloads
// take, plus a second before and after; each reload is waited for before the next.

import { UsageError } from './args.js';
import { record, waitLine } from './log.js';
import { hasPm2, PM2_INSTALL, pm2 } from './pm2.js';
import { killAll, startServer, stopServer } from './process.js';
import { safeKill } from './procfs.js';
import { parseReloadOptions, RELOAD_USAGE } from './reload-args.js';
import { environment, save, shellLine } from './results.js';
import { SETUPS } from './setups.js';
import { sleep } from './wait.js';
import { killWrk, startWrk, wrkCommand, wrkVersion } from './wrk.js';

/** How each setup is told to reload, and how we know it finished. */
const RELOADERS = {
  gsup: {
    how: 'kill -HUP <gsup pid>; wait for "reload done"',
    async reload(server, lines, _workers) {
      const from = lines.length;
      safeKill(server.child.pid, 'SIGHUP');
      const end = await waitLine(lines, /reload (done|rolled back|abandoned)/, { from });
      if (!/reload done/.test(end.text)) throw new Error(`gsup: ${end.text}`);
    },
  },
  pm2: {
    how: 'pm2 reload hello (returns when PM2 says the reload is done)',
    async reload(_server, lines) {
      const home = lines.map((l) => /^pm2 home (\S+)/.exec(l.text)?.[1]).find(Boolean);
      pm2(home, ['reload', 'hello']);
    },
  },
  gunicorn: {
    how: 'kill -HUP <master pid>; wait for N "Booting worker" and N "Worker exiting" lines',
    async reload(_server, lines, workers) {
      const master = Number(
        lines.map((l) => /^gunicorn master pid (\d+)/.exec(l.text)?.[1]).find(Boolean),
      );
      const from = lines.length;
      safeKill(master, 'SIGHUP');
      const count = (re) => lines.slice(from).filter((l) => re.test(l.text)).length;
      const deadline = Date.now() + 60_000;
      while (count(/Booting worker with pid/) < workers || count(/Worker exiting/) < workers) {
        if (Date.now() > deadline) throw new Error('gunicorn: reload did not finish in 60 s');
        await sleep(5);
      }
    },
  },
};

async function main(argv) {
  let options;
  try {
    options = parseReloadOptions(argv);
    const unknown = options.setups.filter((s) => !RELOADERS[s]);
    if (unknown.length) throw new UsageError(`--setups: unknown ${unknown.join(', ')}`);
  } catch (err) {
    if (!(err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS'))) throw err;
    console.error(`bench:reload: ${err.message}\n\n${RELOAD_USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(RELOAD_USAGE);
    return 0;
  }
  if (options.setups.includes('pm2') && !hasPm2()) {
    console.error(`bench:reload: ${PM2_INSTALL}`);
    return 1;
  }
  const env = environment(wrkVersion());
  console.log(`gsup bench:reload: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const setups = SETUPS.filter((s) => options.setups.includes(s.name));
  const runs = [];
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
      how: RELOADERS[s.name].how,
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

async function measure(setup, options) {
  const server = await startServer(setup.name, setup.argv(options.workers));
  const lines = record(server);
  // startServer consumed the first lines already: replay what it kept (pids, pm2 home).
  for (const text of server.output) lines.push({ text, at: Date.now() });
  try {
    const wrk = startWrk(
      wrkCommand({ ...options, duration: 600, mode: 'keep-alive', port: server.port }),
    );
    const t0 = Date.now();
    // A fixed second of steady load before the first reload and after the last.
    await sleep(1000);
    for (let i = 0; i < options.reloads; i++) {
      await RELOADERS[setup.name].reload(server, lines, options.workers);
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

function table(options, rows) {
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

process.on('exit', () => {
  killWrk();
  killAll();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\nbench:reload: ${signal}, stopping everything started`);
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench:reload: ${err.stack ?? err}`);
    process.exit(1);
  },
);
