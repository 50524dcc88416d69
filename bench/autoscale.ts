// `npm run bench:autoscale`: a CPU-bound app (bench/burn.js) on this machine's cores under a load
// step. With --autoscale: how long until gsup adds workers (decision and ready), how many changes
// it makes over the steady load (and whether any reverses the one before: oscillation), and how
// long until it is back at min-workers once the load stops. Then the same load on a fixed pool
// of min and of max workers, for p99 latency side by side. Times come from gsup's typed events
// (their own clock, ms); latency and throughput from wrk.
//
// The load is wrk with think time (bench/wrk-think.lua): C connections, each waiting T ms
// between requests, a steady offered rate rather than wrk's closed loop (which saturates any
// pool). Connection: close, because with keep-alive the connections stay on the worker that
// accepted them and a worker added later gets none (issue 13, item 3): autoscaling could not help.

import { parseArgs } from 'node:util';
import { int, seconds } from '../harness/args.js';
import type { EventOf } from '../harness/log.js';
import { pollUntil, sleep } from '../harness/wait.js';
import { options as readOptions, runMain } from './main.js';
import { killAll, type Server, startServer, stopServer } from './process.js';
import { environment, save, shellLine } from './results.js';
import { killWrk, runWrk, WRK_INSTALL, type WrkResult, wrkVersion } from './wrk.js';

const USAGE = `Usage: npm run bench:autoscale -- [options]

A CPU-bound app under a load step: gsup --autoscale against fixed pools of min and max workers.

  --duration S       seconds of steady load (default 60)
  --burn MS          CPU milliseconds per request (default 10)
  --connections C    wrk connections (default 8)
  --think MS         each connection's pause between requests (default 40)
  --min N            --min-workers, and the small fixed pool (default 1)
  --max N            --max-workers, and the large fixed pool (default 4)
  --idle S           seconds of no load before the step (default 5)
  --down-after S     --scale-down-after (default 30, gsup's own default)
  -h, --help         this text`;

interface Options {
  duration: number;
  burn: number;
  connections: number;
  think: number;
  min: number;
  max: number;
  idle: number;
  downAfter: number;
  help: boolean;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '60' },
      burn: { type: 'string', default: '10' },
      connections: { type: 'string', default: '8' },
      think: { type: 'string', default: '40' },
      min: { type: 'string', default: '1' },
      max: { type: 'string', default: '4' },
      idle: { type: 'string', default: '5' },
      'down-after': { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    duration: seconds('--duration', values.duration, 5),
    burn: int('--burn', values.burn, 1),
    connections: int('--connections', values.connections, 1),
    think: int('--think', values.think, 0),
    min: int('--min', values.min, 1),
    max: int('--max', values.max, 1),
    idle: seconds('--idle', values.idle, 0),
    downAfter: seconds('--down-after', values['down-after'], 1),
    help: values.help,
  };
}

const here = (path: string) => new URL(path, import.meta.url).pathname;
/** How long gsup may take to come back to min-workers after the load (a step per down window). */
const SETTLE_DEADLINE_MS = 10 * 60_000;

function gsupArgv(o: Options, flags: string[]): string[] {
  return [
    process.execPath,
    here('../bin/gsup.js'),
    'start',
    here('burn.js'),
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--log-format',
    'json',
    '--env',
    `BURN_MS=${o.burn}`,
    ...flags,
  ];
}

function wrkArgv(o: Options, port: number): string[] {
  return [
    'wrk',
    '-t1',
    `-c${o.connections}`,
    `-d${o.duration}s`,
    '-H',
    'Connection: close',
    '-s',
    here('wrk-think.lua'),
    `http://127.0.0.1:${port}/`,
  ];
}

async function load(
  o: Options,
  server: Server,
): Promise<{ wrk: WrkResult; from: number; to: number; command: string }> {
  const argv = wrkArgv(o, server.port);
  process.env.WRK_THINK_MS = String(o.think);
  const from = Date.now();
  const wrk = await runWrk(argv, o.duration);
  return { wrk, from, to: Date.now(), command: `WRK_THINK_MS=${o.think} ${shellLine(argv)}` };
}

type Decision = EventOf<'autoscale'>;

async function autoscaled(o: Options) {
  const flags = [
    '-w',
    String(o.min),
    '--autoscale',
    '--min-workers',
    String(o.min),
    '--max-workers',
    String(o.max),
    '--scale-down-after',
    String(o.downAfter),
  ];
  const argv = gsupArgv(o, flags);
  const server = await startServer('gsup --autoscale', argv);
  try {
    await sleep(o.idle * 1000);
    const { wrk, from, to, command } = await load(o, server);
    const decisions = () => server.pool.events.filter((e): e is Decision => e.type === 'autoscale');
    const during = decisions().filter((e) => e.at >= from && e.at <= to);
    const firstUp = during.find((e) => e.direction === 'up');
    const lastUp = [...during].reverse().find((e) => e.direction === 'up');
    // The added capacity serves once the last worker it asked for is ready.
    const readyAfter = lastUp
      ? server.pool.events.filter((e) => e.type === 'worker-ready' && e.at >= lastUp.at).pop()
      : undefined;
    let reversals = 0;
    for (let i = 1; i < during.length; i++) {
      if (during[i]?.direction !== during[i - 1]?.direction) reversals++;
    }
    const peak = Math.max(o.min, ...during.map((e) => e.to));
    // After the load: back at min-workers.
    const back = await pollUntil(
      'autoscale back at min-workers',
      () => decisions().find((e) => e.at > to && e.direction === 'down' && e.to === o.min),
      { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 50 },
    );
    const firstDown = decisions().find((e) => e.at > to && e.direction === 'down');
    const after = decisions().filter((e) => e.at > to);
    return {
      command: shellLine(argv),
      load: command,
      wrk,
      peakWorkers: peak,
      firstUpMs: firstUp ? firstUp.at - from : null,
      lastUpMs: lastUp ? lastUp.at - from : null,
      capacityReadyMs: readyAfter ? readyAfter.at - from : null,
      decisionsDuringLoad: during.map((e) => ({ atMs: e.at - from, message: e.message })),
      reversalsDuringLoad: reversals,
      firstDownAfterLoadMs: firstDown ? firstDown.at - to : null,
      backAtMinAfterLoadMs: back.at - to,
      decisionsAfterLoad: after.map((e) => ({ atMs: e.at - to, message: e.message })),
    };
  } finally {
    await stopServer(server);
  }
}

async function fixed(o: Options, workers: number) {
  const argv = gsupArgv(o, ['-w', String(workers)]);
  const server = await startServer(`gsup -w ${workers}`, argv);
  try {
    await sleep(o.idle * 1000);
    const { wrk, command } = await load(o, server);
    return { workers, command: shellLine(argv), load: command, wrk };
  } finally {
    await stopServer(server);
  }
}

const ms = (v: number | null) => (v === null ? '-' : `${(v / 1000).toFixed(1)} s`);
const line = (name: string, w: WrkResult) =>
  `  ${name.padEnd(22)} p99 ${w.p99Ms.toFixed(1).padStart(7)} ms  p50 ${w.p50Ms.toFixed(1).padStart(6)} ms  ${w.rps.toFixed(0).padStart(5)} req/s  errors ${w.socketErrors + w.non2xx}`;

async function main(argv: string[]): Promise<number> {
  const parsed = readOptions('bench:autoscale', argv, parse, USAGE);
  if (!('options' in parsed)) return parsed.code;
  const o = parsed.options;
  const version = wrkVersion();
  if (!version) {
    console.error(`bench:autoscale: ${WRK_INSTALL}`);
    return 1;
  }
  const env = environment(version);
  console.log(
    `bench:autoscale: burn ${o.burn} ms/request, ${o.connections} connections, think ${o.think} ms, ${o.duration} s of load; load average ${env.loadAverage.join(' ')}`,
  );
  const auto = await autoscaled(o);
  console.log(`  autoscale ${o.min}..${o.max}: peak ${auto.peakWorkers} workers`);
  console.log(
    `    first scale-up ${ms(auto.firstUpMs)} after the load began; last ${ms(auto.lastUpMs)}; its workers ready at ${ms(auto.capacityReadyMs)}`,
  );
  console.log(
    `    ${auto.decisionsDuringLoad.length} decisions over ${o.duration} s of load, ${auto.reversalsDuringLoad} reversals`,
  );
  for (const d of auto.decisionsDuringLoad) console.log(`      +${ms(d.atMs)} ${d.message}`);
  console.log(
    `    after the load: first scale-down ${ms(auto.firstDownAfterLoadMs)}, back at ${o.min} after ${ms(auto.backAtMinAfterLoadMs)}`,
  );
  for (const d of auto.decisionsAfterLoad) console.log(`      +${ms(d.atMs)} ${d.message}`);
  const small = await fixed(o, o.min);
  const large = await fixed(o, o.max);
  console.log('  latency under the same load:');
  console.log(line(`autoscale ${o.min}..${o.max}`, auto.wrk));
  console.log(line(`fixed -w ${o.min}`, small.wrk));
  console.log(line(`fixed -w ${o.max}`, large.wrk));
  const file = save(
    { environment: env, options: o, autoscale: auto, fixedMin: small, fixedMax: large },
    'autoscale',
  );
  console.log(`  raw figures: ${file}`);
  return 0;
}

runMain('bench:autoscale', main, () => {
  killWrk();
  killAll();
});
