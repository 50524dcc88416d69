// `npm run bench`: gsup against the setups it must beat or match, measured in one run.
// Rounds interleave the setups (and rotate their order) so that drift over the run (thermal,
// other load, TIME_WAIT build-up) spreads over all of them instead of biasing the last one.

import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { throughputChart } from './chart.js';
import { autogroupOff } from './fairness.js';
import { options as readOptions, runMain } from './main.js';
import { type BenchOptions, parseOptions, USAGE } from './options.js';
import { hasPm2, PM2_INSTALL } from './pm2.js';
import { killAll, startServer, stopServer } from './process.js';
import { type RatioCheck, ratios, type Summaries, table } from './report.js';
import { environment, save, shellLine } from './results.js';
import { SETUPS, type Setup, unknownSetups } from './setups.js';
import { summarise } from './stats.js';
import {
  killWrk,
  MODES,
  type Mode,
  runWrk,
  WRK_INSTALL,
  type WrkResult,
  wrkCommand,
  wrkVersion,
} from './wrk.js';

const modes = Object.keys(MODES) as Mode[];

/** One wrk run of one setup in one round. */
type Run = WrkResult & { round: number; setup: string; mode: Mode; command: string };

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench', argv, parseOptions, USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(`bench: ${WRK_INSTALL}`);
    return 1;
  }
  if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
    console.error('bench: gsup is not built; run `npm run build` first');
    return 1;
  }

  const unknown = unknownSetups(options.setups);
  if (unknown) {
    console.error(`bench: ${unknown}`);
    return 2;
  }
  const setups = SETUPS.filter(
    (s) => options.setups.length === 0 || options.setups.includes(s.name),
  );
  const missing = prerequisites(setups);
  if (missing) {
    console.error(`bench: ${missing}`);
    return 1;
  }

  const env = environment(wrk);
  const autogroup = autogroupOff();
  console.log(
    `gsup bench: node ${env.node}, ${env.nproc} cpus, ${env.wrk}; autogroup ${autogroup.state}`,
  );
  const results: Array<{
    workers: number;
    summaries: Summaries;
    ratios: RatioCheck[];
    runs: Run[];
  }> = [];
  for (const workers of options.workers) {
    const runs = await measure(workers, options, setups);
    // Per setup and mode: its runs, in round order.
    const each = <T>(f: (runs: Run[]) => T): Record<string, Record<Mode, T>> =>
      Object.fromEntries(
        setups.map(({ name }) => [
          name,
          Object.fromEntries(
            modes.map((mode) => [
              mode,
              f(
                runs
                  .filter((r) => r.setup === name && r.mode === mode)
                  .sort((x, y) => x.round - y.round),
              ),
            ]),
          ) as Record<Mode, T>,
        ]),
      );
    const summaries = each(summarise);
    const rounds = each((own) => own.map((r) => r.rps));
    const checks = ratios(summaries, modes, rounds);
    console.log(table({ workers, options, summaries, setups, modes, checks }));
    results.push({ workers, summaries, ratios: checks, runs });
  }

  const wrkCommands = Object.fromEntries(
    modes.map((mode) => [mode, shellLine(wrkCommand({ ...options, mode, port: 'PORT' }))]),
  );
  const { help: _help, ...settings } = options;
  autogroup.restore();
  const file = save({
    environment: { ...env, autogroup: autogroup.state },
    options: settings,
    setups: setups.map(describe),
    wrkCommands,
    results,
  });
  console.log(`\nresults: ${file}`);
  if (options.svg) {
    writeFileSync(options.svg, throughputChart({ environment: env, options, setups, results }));
    console.log(`chart: ${options.svg}`);
  }
  return 0;
}

/** All rounds for one worker count: every setup, every mode, one fresh server per setup and round. */
async function measure(workers: number, options: BenchOptions, setups: Setup[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const shift = (round - 1) % setups.length;
    const order = [...setups.slice(shift), ...setups.slice(0, shift)];
    for (const setup of order) {
      const server = await startServer(setup.name, setup.argv(workers, options.connections));
      try {
        if (options.warmup > 0) {
          const warm = {
            ...options,
            duration: options.warmup,
            mode: 'keep-alive' as const,
            port: server.port,
          };
          await runWrk(wrkCommand(warm), options.warmup);
        }
        for (const mode of modes) {
          const command = wrkCommand({ ...options, mode, port: server.port });
          const result = await runWrk(command, options.duration);
          runs.push({ round, setup: setup.name, mode, command: shellLine(command), ...result });
          console.log(progress(workers, round, options.rounds, setup.name, mode, result));
        }
      } finally {
        await stopServer(server);
      }
    }
  }
  return runs;
}

function progress(
  workers: number,
  round: number,
  rounds: number,
  setup: string,
  mode: Mode,
  r: WrkResult,
): string {
  const errors = r.socketErrors + r.non2xx;
  return (
    `  N=${workers} round ${round}/${rounds}  ${setup.padEnd(8)} ${mode.padEnd(10)} ` +
    `${Math.round(r.rps).toLocaleString('en-US').padStart(7)} req/s  p99 ${r.p99Ms.toFixed(2)} ms` +
    (errors ? `  ${errors} errors` : '')
  );
}

/** Why a selected setup cannot run here, or null. */
function prerequisites(setups: Setup[]): string | null {
  const names = setups.map((s) => s.name);
  if (names.includes('pm2') && !hasPm2()) return PM2_INSTALL;
  if (names.includes('gunicorn')) {
    try {
      execFileSync('gunicorn', ['--version'], { stdio: 'ignore' });
    } catch {
      return 'gunicorn is not installed; `apt-get install gunicorn` (Debian/Ubuntu), or leave it out with --setups';
    }
  }
  return null;
}

function describe(setup: Setup): { name: string; describe: string; command: string } {
  return { name: setup.name, describe: setup.describe, command: shellLine(setup.argv('N', 'C')) };
}

// Whatever happens, no server may outlive the benchmark.
runMain('bench', main, () => {
  killWrk();
  killAll();
});
