// `npm run bench:pool`: how fast and how evenly gsup manages its pool: respawn latency, hang
// detection, balance across workers, and scale-up time. Times come from gsup's own log stamps
// (ms), counts from its snapshot over the control socket, connections from /proc.

import { UsageError } from './args.js';
import { controlRequest, snapshot } from './control.js';
import { record, waitLine } from './log.js';
import { POOL_USAGE, parsePoolOptions } from './pool-args.js';
import { killAll, startServer, stopServer } from './process.js';
import { connectionsByPid, safeKill } from './procfs.js';
import { environment, save, shellLine } from './results.js';
import { median } from './stats.js';
import { pollUntil, sleep } from './wait.js';
import { killWrk, runWrk, startWrk, wrkCommand, wrkVersion } from './wrk.js';

const here = (path) => new URL(path, import.meta.url).pathname;

function gsupArgv(app, flags) {
  return [
    process.execPath,
    here('../bin/gsup.js'),
    'start',
    here(app),
    ...flags,
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ];
}

/** Starts gsup and records its log from the first line on. */
async function startGsup(app, flags) {
  const argv = gsupArgv(app, flags);
  const server = await startServer('gsup', argv);
  const lines = record(server);
  return { server, lines, command: shellLine(argv) };
}

const ready = (runtimeDir, n) =>
  pollUntil(
    `${n} ready workers`,
    async () => {
      const s = await snapshot(runtimeDir);
      return s.ready === n && s.live === n ? s : null;
    },
    { deadlineMs: 60_000, intervalMs: 20 },
  );

function spread(values) {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

// ---- respawn ----------------------------------------------------------------------------

async function respawn(options) {
  const kills = options.repeat ?? 10;
  const out = {};
  for (const condition of ['idle', 'keep-alive load']) {
    const { server, lines, command } = await startGsup('hello.js', ['-w', '4']);
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
    const samples = [];
    try {
      for (let i = 0; i < kills; i++) {
        const snap = await ready(server.runtimeDir, 4);
        const victim = snap.workers[i % snap.workers.length];
        const from = lines.length;
        const t0 = Date.now();
        safeKill(victim.pid, 'SIGKILL');
        const seen = await waitLine(
          lines,
          new RegExp(`\\(pid ${victim.pid}\\) exited unexpectedly`),
          { from },
        );
        const up = await waitLine(
          lines,
          new RegExp(`worker ${victim.slot} \\(pid (\\d+)\\) ready in (\\d+) ms`),
          { from },
        );
        samples.push({ detectMs: seen.at - t0, readyMs: up.at - t0, bootMs: Number(up.match[2]) });
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
    console.log(
      `  respawn (${condition}): kill → replacement ready median ${out[condition].readyMs.median} ms ` +
        `(min ${out[condition].readyMs.min}, max ${out[condition].readyMs.max}) over ${kills} kills`,
    );
  }
  return out;
}

// ---- hang -------------------------------------------------------------------------------

async function hang(options) {
  const hangs = options.repeat ?? 5;
  const { server, lines, command } = await startGsup('servers/hang-app.js', ['-w', '2', '-t', '2']);
  const samples = [];
  try {
    for (let i = 0; i < hangs; i++) {
      await ready(server.runtimeDir, 2);
      const from = lines.length;
      const t0 = Date.now();
      fetch(`http://127.0.0.1:${server.port}/spin`).catch(() => undefined);
      const timeout = await waitLine(lines, /WORKER TIMEOUT: worker (\d+) \(pid (\d+)\)/, { from });
      const [, slot, pid] = timeout.match;
      const named = await waitLine(
        lines,
        new RegExp(`\\(pid ${pid}\\) killed after timeout .*stuck at .*spinForever`),
        { from },
      );
      // The hung worker was ready before `from`: a ready line in its slot after it is the new one.
      const up = await waitLine(lines, new RegExp(`worker ${slot} \\(pid \\d+\\) ready in`), {
        from,
      });
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

async function balance(options) {
  const rounds = options.repeat ?? 3;
  const out = {};
  for (const mode of ['keep-alive', 'close']) {
    for (const connections of [16, 64]) {
      const key = `${mode}, wrk -c${connections}`;
      out[key] = [];
      for (let round = 1; round <= rounds; round++) {
        out[key].push(await balanceRun(mode, connections, options));
        const r = out[key].at(-1);
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
function maxMin(values) {
  const min = Math.min(...values);
  return min > 0 ? Math.max(...values) / min : null;
}

function ratioText(r) {
  return r === null ? '∞: a worker got none' : r.toFixed(2);
}

/** One fresh pool of 4 under one wrk run: who served what, and who held the connections. */
async function balanceRun(mode, connections, options) {
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

async function scale(options) {
  const times = options.repeat ?? 3;
  const { server, lines, command } = await startGsup('hello.js', [
    '-w',
    '1',
    '--max-workers',
    '16',
  ]);
  const samples = [];
  try {
    for (let i = 0; i < times; i++) {
      await ready(server.runtimeDir, 1);
      const from = lines.length;
      const t0 = Date.now();
      await controlRequest(server.runtimeDir, { cmd: 'scale', to: 16 });
      await pollUntil(
        '16 ready lines',
        () => lines.slice(from).filter((l) => /ready in \d+ ms/.test(l.text)).length >= 15,
        {
          deadlineMs: 120_000,
          intervalMs: 10,
        },
      );
      const readyLines = lines.slice(from).filter((l) => /ready in \d+ ms/.test(l.text));
      samples.push({ allReadyMs: readyLines[14].at - t0, firstReadyMs: readyLines[0].at - t0 });
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

const MEASURES = { respawn, hang, balance, scale };

async function main(argv) {
  let options;
  try {
    options = parsePoolOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS'))) throw err;
    console.error(`bench:pool: ${err.message}\n\n${POOL_USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(POOL_USAGE);
    return 0;
  }
  const env = environment(wrkVersion());
  console.log(`gsup bench:pool: node ${env.node}, ${env.nproc} cpus, ${env.wrk}`);
  const results = {};
  for (const name of options.only) results[name] = await MEASURES[name](options);
  const { help: _help, ...settings } = options;
  console.log(`\nresults: ${save({ environment: env, options: settings, results }, 'pool')}`);
  return 0;
}

process.on('exit', () => {
  killWrk();
  killAll();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\nbench:pool: ${signal}, stopping everything started`);
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench:pool: ${err.stack ?? err}`);
    process.exit(1);
  },
);
