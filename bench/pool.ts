// `npm run bench:pool`: how fast and how evenly gsup manages its pool: respawn latency, hang
// detection, balance across workers, and scale-up time. Times come from gsup's own typed events
// (their time, in ms), counts from its snapshot over the control socket, connections from /proc.

import { connectionsByPid, killQuietly } from '../harness/procfs.js';
import { pollUntil, sleep } from '../harness/wait.js';
import { controlRequest, type Snapshot, snapshot } from './control.js';
import { options as readOptions, runMain } from './main.js';
import { POOL_USAGE, type PoolMeasure, type PoolOptions, parsePoolOptions } from './options.js';
import { killAll, type Server, startServer, stopServer, waitEvent } from './process.js';
import { environment, save, shellLine } from './results.js';
import { spread as keepAliveSpread } from './spread.js';
import { median } from './stats.js';
import { killWrk, type Mode, runWrk, startWrk, wrkCommand, wrkVersion } from './wrk.js';

const here = (path: string) => new URL(path, import.meta.url).pathname;

function gsupArgv(app: string, flags: string[]): string[] {
  return [
    process.execPath,
    here('../bin/gsup.js'),
    'start',
    here(app),
    ...flags,
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--log-format',
    'json',
  ];
}

/** Starts gsup; its typed events are kept from the first on. */
async function startGsup(
  app: string,
  flags: string[],
): Promise<{ server: Server; command: string }> {
  const argv = gsupArgv(app, flags);
  const server = await startServer('gsup', argv);
  return { server, command: shellLine(argv) };
}

const ready = (runtimeDir: string, n: number): Promise<Snapshot> =>
  pollUntil(
    `${n} ready workers`,
    async () => {
      const s = await snapshot(runtimeDir);
      return s.ready === n && s.live === n ? s : null;
    },
    { deadlineMs: 60_000, intervalMs: 20 },
  );

interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

function spread(values: number[]): Spread {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

// ---- respawn ----------------------------------------------------------------------------

async function respawn(options: PoolOptions) {
  const kills = options.repeat ?? 10;
  const out: Record<string, { readyMs: Spread } & Record<string, unknown>> = {};
  for (const condition of ['idle', 'keep-alive load']) {
    const { server, command } = await startGsup('hello.js', ['-w', '4']);
    const wrk =
      condition === 'idle'
        ? null
        : startWrk(
            wrkCommand({
              threads: 1,
              connections: 16,
              duration: 600,
              mode: 'keep-alive',
              port: server.port,
            }),
          );
    const samples: Array<{ detectMs: number; readyMs: number; bootMs: number }> = [];
    try {
      for (let i = 0; i < kills; i++) {
        const snap = await ready(server.runtimeDir, 4);
        const victim = snap.workers[i % snap.workers.length];
        if (!victim) throw new Error('the snapshot lists no workers');
        const from = server.pool.events.length;
        const t0 = Date.now();
        killQuietly(victim.pid, 'SIGKILL');
        const seen = await waitEvent(
          server,
          'worker-exit',
          (e) => e.pid === victim.pid && e.cause === 'crashed',
          from,
        );
        const up = await waitEvent(server, 'worker-ready', (e) => e.slot === victim.slot, from);
        samples.push({ detectMs: seen.at - t0, readyMs: up.at - t0, bootMs: up.bootMs });
      }
      if (wrk) await wrk.stop();
    } finally {
      await stopServer(server);
    }
    out[condition] = {
      command,
      detectMs: spread(samples.map((s) => s.detectMs)),
      readyMs: spread(samples.map((s) => s.readyMs)),
      bootMs: spread(samples.map((s) => s.bootMs)),
      samples,
    };
    const readyMs = out[condition]?.readyMs;
    console.log(
      `  respawn (${condition}): kill → replacement ready median ${readyMs?.median} ms ` +
        `(min ${readyMs?.min}, max ${readyMs?.max}) over ${kills} kills`,
    );
  }
  return out;
}

// ---- hang -------------------------------------------------------------------------------

async function hang(options: PoolOptions) {
  const hangs = options.repeat ?? 5;
  const { server, command } = await startGsup('servers/hang-app.js', ['-w', '2', '-t', '2']);
  const samples: Array<{ timeoutMs: number; namedMs: number; readyMs: number }> = [];
  try {
    for (let i = 0; i < hangs; i++) {
      await ready(server.runtimeDir, 2);
      const from = server.pool.events.length;
      const t0 = Date.now();
      fetch(`http://127.0.0.1:${server.port}/spin`).catch(() => undefined);
      const timeout = await waitEvent(server, 'worker-timeout', undefined, from);
      // Its exit carries the stack: the timeout is only "named" once it points at the spin.
      const named = await waitEvent(
        server,
        'worker-exit',
        (e) =>
          e.pid === timeout.pid &&
          e.cause === 'timeout' &&
          [e.where ?? '', ...(e.stack ?? [])].some((f) => f.includes('spinForever')),
        from,
      );
      // The hung worker was ready before `from`: a ready event in its slot after it is the new one.
      const up = await waitEvent(server, 'worker-ready', (e) => e.slot === timeout.slot, from);
      samples.push({ timeoutMs: timeout.at - t0, namedMs: named.at - t0, readyMs: up.at - t0 });
    }
  } finally {
    await stopServer(server);
  }
  const out = {
    command,
    timeoutSetting: 2,
    timeoutMs: spread(samples.map((s) => s.timeoutMs)),
    namedMs: spread(samples.map((s) => s.namedMs)),
    readyMs: spread(samples.map((s) => s.readyMs)),
    samples,
  };
  console.log(
    `  hang (-t 2): WORKER TIMEOUT after median ${out.timeoutMs.median} ms, stack named and killed ` +
      `${out.namedMs.median} ms, replacement ready ${out.readyMs.median} ms`,
  );
  return out;
}

// ---- balance ----------------------------------------------------------------------------

async function balance(options: PoolOptions) {
  const rounds = options.repeat ?? 3;
  const out: Record<string, BalanceRun[]> = {};
  for (const mode of ['keep-alive', 'close'] as const) {
    for (const connections of [16, 64]) {
      const key = `${mode}, wrk -c${connections}`;
      const runs: BalanceRun[] = [];
      out[key] = runs;
      for (let round = 1; round <= rounds; round++) {
        const r = await balanceRun(mode, connections, options);
        runs.push(r);
        console.log(
          `  balance (${key}) ${round}/${rounds}: request shares ${r.requestShares.map((x) => `${(x * 100).toFixed(1)}%`).join(' ')}` +
            ` (max/min ${ratioText(r.requestsMaxMin)})` +
            (r.connections ? `; connections ${r.connections.join(' ')}` : ''),
        );
      }
    }
  }
  return out;
}

/** max/min, or null when some worker got none (JSON has no Infinity). */
function maxMin(values: number[]): number | null {
  const min = Math.min(...values);
  return min > 0 ? Math.max(...values) / min : null;
}

function ratioText(r: number | null): string {
  return r === null ? '∞: a worker got none' : r.toFixed(2);
}

/** One fresh pool of 4 under one wrk run: who served what, and who held the connections. */
interface BalanceRun {
  command: string;
  wrk: string;
  requests: number[];
  requestShares: number[];
  requestsMaxMin: number | null;
  connections: number[] | null;
  connectionsMaxMin: number | null;
  rps: number;
}

async function balanceRun(
  mode: Mode,
  connections: number,
  options: PoolOptions,
): Promise<BalanceRun> {
  const { server, command } = await startGsup('hello.js', ['-w', '4']);
  try {
    const before = await ready(server.runtimeDir, 4);
    const pids = before.workers.map((w) => w.pid);
    const start = new Map(before.workers.map((w) => [w.pid, w.requests]));
    const wrkArgv = wrkCommand({
      threads: 1,
      connections,
      duration: options.duration,
      mode,
      port: server.port,
    });
    const running = runWrk(wrkArgv, options.duration);
    // Mid-run: who holds the open connections (a keep-alive connection stays with its worker).
    await sleep((options.duration * 1000) / 2);
    const conns = connectionsByPid(pids, server.port);
    const wrk = await running;
    // Counts travel in heartbeats (≤ 1 s apart): wait until they cover what wrk got back.
    const after = await pollUntil(
      'heartbeats to report the load',
      async () => {
        const s = await snapshot(server.runtimeDir);
        const sum = s.workers.reduce((n, w) => n + w.requests - (start.get(w.pid) ?? 0), 0);
        return sum >= wrk.requests ? s : null;
      },
      { deadlineMs: 10_000, intervalMs: 100 },
    );
    const requests = pids.map((pid) => {
      const w = after.workers.find((x) => x.pid === pid);
      return (w?.requests ?? 0) - (start.get(pid) ?? 0);
    });
    const total = requests.reduce((a, b) => a + b, 0);
    const connCounts = pids.map((p) => conns.get(p) ?? 0);
    return {
      command,
      wrk: shellLine(wrkArgv),
      requests,
      requestShares: requests.map((r) => r / total),
      requestsMaxMin: maxMin(requests),
      connections: mode === 'keep-alive' ? connCounts : null,
      connectionsMaxMin: mode === 'keep-alive' ? maxMin(connCounts) : null,
      rps: wrk.rps,
    };
  } finally {
    await stopServer(server);
  }
}

// ---- scale ------------------------------------------------------------------------------

async function scale(options: PoolOptions) {
  const times = options.repeat ?? 3;
  const { server, command } = await startGsup('hello.js', ['-w', '1', '--max-workers', '16']);
  const samples: Array<{ allReadyMs: number; firstReadyMs: number }> = [];
  try {
    for (let i = 0; i < times; i++) {
      await ready(server.runtimeDir, 1);
      const from = server.pool.events.length;
      const t0 = Date.now();
      await controlRequest(server.runtimeDir, { cmd: 'scale', to: 16 });
      const readyEvents = () =>
        server.pool.events.slice(from).filter((e) => e.type === 'worker-ready');
      await pollUntil('15 new workers ready', () => readyEvents().length >= 15, {
        deadlineMs: 120_000,
        intervalMs: 10,
      });
      const [first, fifteenth] = [readyEvents()[0], readyEvents()[14]];
      if (!first || !fifteenth) throw new Error('fewer ready events than waited for');
      samples.push({ allReadyMs: fifteenth.at - t0, firstReadyMs: first.at - t0 });
      await controlRequest(server.runtimeDir, { cmd: 'scale', to: 1 });
    }
  } finally {
    await stopServer(server);
  }
  const out = {
    command,
    allReadyMs: spread(samples.map((s) => s.allReadyMs)),
    firstReadyMs: spread(samples.map((s) => s.firstReadyMs)),
    samples,
  };
  console.log(
    `  scale 1 → 16: all 16 ready after median ${out.allReadyMs.median} ms ` +
      `(min ${out.allReadyMs.min}, max ${out.allReadyMs.max}); first new one ${out.firstReadyMs.median} ms`,
  );
  return out;
}

const MEASURES: Record<PoolMeasure, (options: PoolOptions) => Promise<unknown>> = {
  respawn,
  hang,
  balance,
  scale,
  spread: keepAliveSpread,
};

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:pool', argv, parsePoolOptions, POOL_USAGE);
  if ('code' in read) return read.code;
  const { options } = read;
  const env = environment(wrkVersion());
  console.log(`gsup bench:pool: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const results: Record<string, unknown> = {};
  for (const name of options.only) results[name] = await MEASURES[name](options);
  const { help: _help, ...settings } = options;
  console.log(`\nresults: ${save({ environment: env, options: settings, results }, 'pool')}`);
  return 0;
}

runMain('bench:pool', main, () => {
  killWrk();
  killAll();
});
