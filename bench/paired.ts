// `npm run bench:paired`: the request path's cost, measured so that a few per cent show. Every
// setup is started once and kept; then short wrk runs alternate between them (the order reversed
// every round), so each round compares the setups within seconds of each other, and the ratio to
// the first setup is taken per round before its median. Next to req/s it reads from /proc what each
// request cost: CPU of the workers, of the primary (gsup's supervisor), and of wrk itself, the
// workers' context switches, how unevenly the workers shared the CPU, and how much of the machine
// sat idle. The throughput bench (`npm run bench`) starts every setup afresh each round instead.

import {
  childPids,
  clockTicks,
  contextSwitches,
  cpuTicks,
  machineTicks,
  reapedChildrenTicks,
} from '../harness/procfs.js';
import { autogroupOff } from './fairness.js';
import { options as readOptions, runMain } from './main.js';
import { PAIRED_USAGE, parsePairedOptions } from './options.js';
import { killAll, type Server, startServer, stopServer } from './process.js';
import { environment, save, shellLine } from './results.js';
import { SETUPS, unknownSetups } from './setups.js';
import { median, medianInterval } from './stats.js';
import { killWrk, type Mode, runWrk, WRK_INSTALL, wrkCommand, wrkVersion } from './wrk.js';

/** What one wrk run of one setup cost, per request. */
interface Sample {
  rps: number;
  requests: number;
  errors: number;
  /** Microseconds of CPU per request: the workers (all of them), the primary, wrk. */
  workerUs: number;
  primaryUs: number;
  wrkUs: number;
  /** The workers' context switches per 1,000 requests. */
  switches: number;
  /** The busiest worker's CPU over the idlest's in this run. */
  unevenness: number;
  /** Share of the machine's CPU time that was idle during the run. */
  idle: number;
}

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:paired', argv, parsePairedOptions, PAIRED_USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(`bench:paired: ${WRK_INSTALL}`);
    return 1;
  }
  const unknown = unknownSetups(options.setups);
  if (unknown) {
    console.error(`bench:paired: ${unknown}`);
    return 2;
  }
  const setups = options.setups.map((name) => SETUPS.find((s) => s.name === name)!);
  const env = environment(wrk);
  const autogroup = autogroupOff();
  const tick = 1e6 / clockTicks();
  console.log(
    `gsup bench:paired: ${setups.map((s) => s.name).join(' vs ')}, N=${options.workers}, ` +
      `${options.pairs} rounds of ${options.duration}s per mode; autogroup ${autogroup.state}`,
  );
  const servers: Server[] = [];
  const results: Record<string, Record<string, Sample[]>> = Object.fromEntries(
    setups.map((s) => [s.name, Object.fromEntries(options.modes.map((m) => [m, []]))]),
  );
  const wrkOptions = { connections: options.connections, threads: options.threads };
  /** Every setup, started (afresh) and warmed. */
  const start = async () => {
    for (const server of servers.splice(0)) await stopServer(server);
    for (const s of setups)
      servers.push(await startServer(s.name, s.argv(options.workers, options.connections)));
    for (const server of servers) {
      const warm = { ...wrkOptions, duration: 2, mode: 'keep-alive' as const, port: server.port };
      await runWrk(wrkCommand(warm), 2);
    }
  };
  let restarts = 0;
  try {
    await start();
    for (const mode of options.modes) {
      for (let round = 0; round < options.pairs; round++) {
        if (round > 0 && options.restartEvery > 0 && round % options.restartEvery === 0) {
          await start();
          restarts++;
        }
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          const sample = await measure(server, mode, options.duration, wrkOptions, tick);
          results[server.name]?.[mode]?.push(sample);
        }
        const line = servers.map((s) => {
          const last = results[s.name]?.[mode]?.at(-1);
          return `${s.name} ${Math.round(last?.rps ?? 0).toLocaleString('en-US')}`;
        });
        console.log(`  ${mode} round ${round + 1}/${options.pairs}  ${line.join('  ')}`);
      }
    }
  } finally {
    for (const server of servers.splice(0)) await stopServer(server);
    autogroup.restore();
  }
  if (restarts > 0)
    console.log(
      `\n(every setup was started afresh ${restarts} time${restarts === 1 ? '' : 's'} in between)`,
    );

  const baseline = setups[0]?.name ?? '';
  const summary: Array<Record<string, unknown>> = [];
  for (const mode of options.modes) {
    console.log(
      `\n${mode}, N=${options.workers}: medians of ${options.pairs} rounds; ratio = per-round req/s over ${baseline}'s, median (min–max)`,
    );
    console.log(
      'setup              req/s   ratio              worker µs/req  primary µs/req  wrk µs/req  ctx sw/1k req  unevenness  idle',
    );
    // How far each median ratio can be trusted (bootstrap over the rounds), under the table.
    const trust: string[] = [];
    for (const s of setups) {
      const samples = results[s.name]?.[mode] ?? [];
      const base = results[baseline]?.[mode] ?? [];
      const ratios = samples.map((x, i) => x.rps / (base[i]?.rps ?? Number.NaN));
      const m = (f: (x: Sample) => number) => median(samples.map(f));
      const row = {
        mode,
        setup: s.name,
        rps: m((x) => x.rps),
        ratio: median(ratios),
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        workerUs: m((x) => x.workerUs),
        primaryUs: m((x) => x.primaryUs),
        wrkUs: m((x) => x.wrkUs),
        switches: m((x) => x.switches),
        unevenness: m((x) => x.unevenness),
        idle: m((x) => x.idle),
        errors: samples.reduce((a, x) => a + x.errors, 0),
      };
      const costs = samples.map((x, i) => x.workerUs / (base[i]?.workerUs ?? Number.NaN));
      const within = medianInterval(ratios);
      const cost = { median: median(costs), ...medianInterval(costs) };
      summary.push({ ...row, ratioLow: within.low, ratioHigh: within.high, workerUsRatio: cost });
      if (s.name !== baseline)
        trust.push(
          `  ${s.name}/${baseline}: req/s per round ${row.ratio.toFixed(3)}, 90 % interval ` +
            `${within.low.toFixed(3)}–${within.high.toFixed(3)}; workers' µs/req per round ` +
            `${cost.median.toFixed(3)}, ${cost.low.toFixed(3)}–${cost.high.toFixed(3)}`,
        );
      const ratio =
        s.name === baseline
          ? '—'
          : `${row.ratio.toFixed(3)} (${row.ratioMin.toFixed(2)}–${row.ratioMax.toFixed(2)})`;
      console.log(
        [
          s.name.padEnd(16),
          Math.round(row.rps).toLocaleString('en-US').padStart(8),
          `  ${ratio.padEnd(19)}`,
          row.workerUs.toFixed(1).padStart(13),
          row.primaryUs.toFixed(2).padStart(15),
          row.wrkUs.toFixed(1).padStart(11),
          row.switches.toFixed(0).padStart(14),
          row.unevenness.toFixed(2).padStart(11),
          `${(row.idle * 100).toFixed(0)}%`.padStart(6),
          row.errors > 0 ? `  ${row.errors} errors` : '',
        ].join(''),
      );
    }
    for (const line of trust) console.log(line);
  }
  const { help: _help, ...settings } = options;
  const file = save(
    {
      environment: { ...env, autogroup: autogroup.state },
      options: settings,
      setups: setups.map((s) => ({
        name: s.name,
        command: shellLine(s.argv(options.workers, options.connections)),
      })),
      summary,
      samples: results,
    },
    'paired',
  );
  console.log(`\nresults: ${file}`);
  return 0;
}

/** One wrk run against one server, with what it cost each process per request. */
async function measure(
  server: Server,
  mode: Mode,
  duration: number,
  wrkOptions: { connections: number; threads: number },
  tickUs: number,
): Promise<Sample> {
  const primary = server.child.pid ?? -1;
  const workers = childPids(primary);
  const before = snapshot(primary, workers);
  const result = await runWrk(
    wrkCommand({ ...wrkOptions, duration, mode, port: server.port }),
    duration,
  );
  const after = snapshot(primary, workers);
  const perRequest = (ticks: number) => (ticks * tickUs) / Math.max(1, result.requests);
  const busy = workers.map((_, i) => (after.workers[i] ?? 0) - (before.workers[i] ?? 0));
  const busiest = Math.max(0, ...busy);
  const idlest = Math.min(...busy);
  const allTicks = after.machine.total - before.machine.total;
  return {
    rps: result.rps,
    requests: result.requests,
    errors: result.socketErrors + result.non2xx,
    workerUs: perRequest(busy.reduce((a, b) => a + b, 0)),
    primaryUs: perRequest(after.primary - before.primary),
    wrkUs: perRequest(after.children - before.children),
    switches: ((after.switches - before.switches) * 1000) / Math.max(1, result.requests),
    unevenness: busiest / Math.max(1, idlest),
    idle: allTicks > 0 ? (after.machine.idle - before.machine.idle) / allTicks : 0,
  };
}

/** CPU ticks of the primary, of each worker and of this process's reaped children (wrk), and the machine's. */
function snapshot(primary: number, workers: number[]) {
  return {
    primary: cpuTicks(primary) ?? 0,
    workers: workers.map((w) => cpuTicks(w) ?? 0),
    children: reapedChildrenTicks(),
    switches: workers.reduce((a, w) => a + contextSwitches(w), 0),
    machine: machineTicks(),
  };
}

runMain('bench:paired', main, () => {
  killWrk();
  killAll();
});
