// `npm run bench:pool -- --only spread`: keep-alive balance (issue 13, item 3). wrk opens 64
// keep-alive connections at once against 2 and against 4 workers; open connections per worker
// are read from /proc every 100 ms. The goal: max/min ≤ 1.25 within 5 s, a worker added by a
// scale-up holding its share within 10 s, and no failed request. Each case runs balanced (the
// default) and with --no-balance (where the kernel alone decides), in fresh pools, interleaved.

import { connectionsByPid } from '../harness/procfs.js';
import { pollUntil, sleep } from '../harness/wait.js';
import { controlRequest, type Snapshot, snapshot } from './control.js';
import type { PoolOptions } from './options.js';
import { startServer, stopServer } from './process.js';
import { shellLine } from './results.js';
import { startWrk, wrkCommand } from './wrk.js';

const here = (path: string) => new URL(path, import.meta.url).pathname;

/** The goal's bound on max/min open connections per worker. */
const BOUND = 1.25;
const CONNECTIONS = 64;
const SETTLE_MS = 5_000;
const SCALED_MS = 10_000;
const SAMPLE_MS = 100;

/** max/min, or null when some worker holds none (JSON has no Infinity). */
function ratio(counts: number[]): number | null {
  const min = Math.min(...counts);
  return min > 0 ? Math.max(...counts) / min : null;
}

const within = (r: number | null) => r !== null && r <= BOUND;
const ratioText = (r: number | null) => (r === null ? '∞' : r.toFixed(2));

interface Watch {
  /** Per worker at the end of the window. */
  counts: number[];
  ratio: number | null;
  /** Milliseconds into the window when max/min first was within the bound; null: never. */
  firstWithinMs: number | null;
}

/** Samples open connections per pid every 100 ms for `ms`. */
async function watch(pids: number[], port: number, ms: number): Promise<Watch> {
  const t0 = Date.now();
  let firstWithinMs: number | null = null;
  let counts: number[] = [];
  for (;;) {
    const byPid = connectionsByPid(pids, port);
    counts = pids.map((p) => byPid.get(p) ?? 0);
    const elapsed = Date.now() - t0;
    if (firstWithinMs === null && within(ratio(counts))) firstWithinMs = elapsed;
    if (elapsed >= ms) break;
    await sleep(SAMPLE_MS);
  }
  return { counts, ratio: ratio(counts), firstWithinMs };
}

interface SpreadRun {
  setup: 'balanced' | 'no-balance';
  workers: number;
  command: string;
  wrk: string;
  atFiveSeconds: Watch;
  scaledUp: Watch & { newWorker: number };
  rps: number;
  requests: number;
  failed: number;
  shed: number;
}

async function ready(runtimeDir: string, n: number): Promise<Snapshot> {
  return pollUntil(
    `${n} ready workers`,
    async () => {
      const s = await snapshot(runtimeDir);
      return s.ready === n && s.live === n ? s : null;
    },
    { deadlineMs: 60_000, intervalMs: 20 },
  );
}

async function spreadRun(setup: SpreadRun['setup'], workers: number): Promise<SpreadRun> {
  const argv = [
    process.execPath,
    here('../bin/gsup.js'),
    'start',
    here('hello.js'),
    '-w',
    String(workers),
    ...(setup === 'no-balance' ? ['--no-balance'] : []),
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--log-format',
    'json',
  ];
  const server = await startServer('gsup', argv);
  try {
    const before = await ready(server.runtimeDir, workers);
    const pids = before.workers.map((w) => w.pid);
    const wrkArgv = wrkCommand({
      threads: 1,
      connections: CONNECTIONS,
      duration: 600,
      mode: 'keep-alive',
      port: server.port,
    });
    // wrk opens all its connections at once, as a client's or a proxy's pool does.
    const wrk = startWrk(wrkArgv);
    const atFiveSeconds = await watch(pids, server.port, SETTLE_MS);
    const from = server.pool.events.length;
    await controlRequest(server.runtimeDir, { cmd: 'scale', to: workers + 1 });
    const up = await pollUntil(
      'the new worker ready',
      () => server.pool.find('worker-ready', () => true, from),
      { deadlineMs: 60_000, intervalMs: 10 },
    );
    const scaled = await watch([...pids, up.pid], server.port, SCALED_MS);
    const result = await wrk.stop();
    const snap = (await snapshot(server.runtimeDir)) as unknown as {
      workers: Array<{ shed?: number }>;
    };
    return {
      setup,
      workers,
      command: shellLine(argv),
      wrk: shellLine(wrkArgv),
      atFiveSeconds,
      scaledUp: { ...scaled, newWorker: scaled.counts[scaled.counts.length - 1] ?? 0 },
      rps: result.rps,
      requests: result.requests,
      failed: result.socketErrors + result.non2xx,
      shed: snap.workers.reduce((n, w) => n + (w.shed ?? 0), 0),
    };
  } finally {
    await stopServer(server);
  }
}

/** Keep-alive balance: 64 connections at once, 2 and 4 workers, balanced and not. */
export async function spread(options: PoolOptions): Promise<Record<string, SpreadRun[]>> {
  const rounds = options.repeat ?? 3;
  const out: Record<string, SpreadRun[]> = {};
  for (let round = 1; round <= rounds; round++) {
    for (const workers of [2, 4]) {
      for (const setup of ['balanced', 'no-balance'] as const) {
        const key = `${setup}, ${workers} workers`;
        const r = await spreadRun(setup, workers);
        const runs = out[key] ?? [];
        out[key] = runs;
        runs.push(r);
        const first = (w: Watch) =>
          w.firstWithinMs === null ? 'never' : `${(w.firstWithinMs / 1000).toFixed(1)} s`;
        console.log(
          `  spread (${key}) ${round}/${rounds}: at 5 s ${r.atFiveSeconds.counts.join(' ')} ` +
            `(max/min ${ratioText(r.atFiveSeconds.ratio)}, within ${BOUND} from ${first(r.atFiveSeconds)}); ` +
            `+1 worker, 10 s after ready ${r.scaledUp.counts.join(' ')} (max/min ${ratioText(r.scaledUp.ratio)}, within from ${first(r.scaledUp)}); ` +
            `${Math.round(r.rps)} req/s, ${r.failed} failed, ${r.shed} shed`,
        );
      }
    }
  }
  return out;
}
