// `npm run bench:cost`: what the gsup supervisor process itself costs (CPU % of one core, RSS),
// headless and with the dashboard in a real terminal, at a few worker counts, under steady load.
// Only the supervisor's pid is measured: the workers' cost is the app's, not gsup's.
// Rounds interleave the configurations (and rotate their order) so that drift over the run
// (other load on the machine, thermal) spreads over all of them instead of biasing one.

import { existsSync } from 'node:fs';
import { clockTicks } from '../harness/procfs.js';
import { TmuxServer } from '../harness/tmux.js';
import {
  type CostConfig,
  type CostRun,
  FLOOR,
  floorCheck,
  summarise,
  table,
} from './cost-report.js';
import { options as readOptions, runMain } from './main.js';
import { COST_USAGE, type CostOptions, parseCostOptions } from './options.js';
import { killAll, startServer, stopServer } from './process.js';
import { environment, save, shellLine } from './results.js';
import { sampleProcess } from './sampler.js';
import { gsupArgv } from './setups.js';
import { hasTmux, killAllTmux, startInTmux, stopTmux, tmuxCommand } from './tmux.js';
import { killWrk, runWrk, WRK_INSTALL, wrkCommand, wrkVersion } from './wrk.js';

/** The dashboard's terminal: a common size, big enough for the charts to be drawn too. */
const TERMINAL = { cols: 120, rows: 40 };

/** `gsup start bench/hello.js -w N -b 127.0.0.1:0 --no-tui`, the same command `npm run bench` runs. */
const headlessArgv = gsupArgv;

/** A gsup that serves: its supervisor's pid, its port, how it was started, how to stop it. */
interface Running {
  pid: number;
  port: number;
  command: string;
  stop(): Promise<void>;
}

/** The two ways gsup runs. start() resolves once it serves. */
const MODES: Record<
  string,
  { start(workers: number): Promise<Running>; command(workers: number): string }
> = {
  headless: {
    // stdout and stderr are pipes that process.js reads: log lines, no terminal.
    async start(workers) {
      const server = await startServer(`gsup -w ${workers}`, headlessArgv(workers));
      // bin/gsup.js runs the CLI in its own process, so the spawned pid is the supervisor.
      return {
        pid: server.child.pid ?? 0,
        port: server.port,
        command: shellLine(headlessArgv(workers)),
        stop: () => stopServer(server),
      };
    },
    command: (workers) => shellLine(headlessArgv(workers)),
  },
  dashboard: {
    async start(workers) {
      const session = await startInTmux({ workers, ...TERMINAL });
      return {
        pid: session.pid,
        port: session.port,
        command: shellLine(session.command),
        stop: () => stopTmux(session),
      };
    },
    command: (workers) => shellLine(tmuxCommand(new TmuxServer('cost'), { workers, ...TERMINAL })),
  },
};

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:cost', argv, parseCostOptions, COST_USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  const missing = prerequisites();
  if (missing) {
    console.error(`bench:cost: ${missing}`);
    return 1;
  }

  const env = { ...environment(wrkVersion()), clockTicks: clockTicks() };
  console.log(`gsup bench:cost: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const configs: CostConfig[] = Object.keys(MODES).flatMap((mode) =>
    options.workers.map((workers) => ({ mode, workers })),
  );
  const runs: Array<CostRun & { round: number }> = [];
  for (let round = 1; round <= options.rounds; round++) {
    const shift = (round - 1) % configs.length;
    for (const config of [...configs.slice(shift), ...configs.slice(0, shift)]) {
      const run = await measure(config, options, env.clockTicks);
      runs.push({ round, ...config, ...run });
      console.log(progress(round, options.rounds, config, run));
    }
  }

  const rows = configs.map((config) => {
    const summary = summarise(
      runs.filter((r) => r.mode === config.mode && r.workers === config.workers),
    );
    return { config, summary, check: floorCheck(config, summary) };
  });
  console.log(table({ options, rows }));

  const { help: _help, ...settings } = options;
  const file = save(
    {
      environment: env,
      options: settings,
      terminal: TERMINAL,
      floor: FLOOR,
      method:
        'supervisor pid only: CPU % = Δ(utime+stime) of /proc/PID/stat over the window ÷ ' +
        'CLK_TCK ÷ elapsed s × 100; RSS = max VmRSS of /proc/PID/status sampled every 1 s ' +
        '(warm-up included); MB = MiB',
      commands: Object.fromEntries(
        Object.entries(MODES).map(([mode, m]) => [
          mode,
          Object.fromEntries(options.workers.map((w) => [w, m.command(w)])),
        ]),
      ),
      wrkCommand: shellLine(loadCommand(options, 'PORT')),
      results: rows,
      runs,
    },
    'cost',
  );
  console.log(`\nresults: ${file}`);
  return 0;
}

/** One fresh gsup, loaded for warm-up + window while its pid is sampled, then stopped. */
async function measure(config: CostConfig, options: CostOptions, ticksPerSecond: number) {
  const mode = MODES[config.mode];
  if (!mode) throw new Error(`unknown mode ${config.mode}`);
  const gsup = await mode.start(config.workers);
  try {
    const command = loadCommand(options, gsup.port);
    // Both at once: Promise.all also keeps a late wrk failure from going unhandled.
    const [sample, wrk] = await Promise.all([
      sampleProcess(gsup.pid, { warmup: options.warmup, window: options.duration, ticksPerSecond }),
      runWrk(command, loadSeconds(options)),
    ]);
    const { rssKb, ticksPerSample, ...figures } = sample;
    return {
      pid: gsup.pid,
      ...figures,
      wrk,
      samples: { rssKb, ticksPerSample },
      commands: { gsup: gsup.command, wrk: shellLine(command) },
    };
  } finally {
    await gsup.stop();
  }
}

/** wrk runs a second past the sampling, so the whole window is under load. */
function loadSeconds(options: CostOptions): number {
  return options.warmup + options.duration + 1;
}

function loadCommand(options: CostOptions, port: number | string): string[] {
  return wrkCommand({ ...options, duration: loadSeconds(options), mode: 'keep-alive', port });
}

/** Why this machine cannot run the benchmark, or null when it can. */
function prerequisites(): string | null {
  if (!existsSync('/proc/self/stat')) return 'needs Linux: CPU and RSS are read from /proc';
  if (!wrkVersion()) return WRK_INSTALL;
  if (!hasTmux()) return 'tmux is not installed; `apt-get install tmux` (Debian/Ubuntu)';
  if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
    return 'gsup is not built; run `npm run build` first';
  }
  return null;
}

function progress(
  round: number,
  rounds: number,
  config: CostConfig,
  run: { cpuPercent: number; rssMaxMb: number; wrk: { rps: number } },
): string {
  return (
    `  round ${round}/${rounds}  ${config.mode.padEnd(9)} ${String(config.workers).padStart(2)} ` +
    `workers  CPU ${run.cpuPercent.toFixed(2).padStart(5)} %  RSS ${run.rssMaxMb.toFixed(1)} MB  ` +
    `${Math.round(run.wrk.rps).toLocaleString('en-US')} req/s`
  );
}

// Whatever happens, nothing started here may outlive the benchmark. It SIGKILLs gsup before
// killing tmux, whose SIGHUP would mean "reload" to gsup.
runMain(
  'bench:cost',
  main,
  () => {
    killWrk();
    killAll();
    killAllTmux();
  },
  ['SIGINT', 'SIGTERM', 'SIGHUP'],
);
