// Issue 13, item 3: keep-alive load spreads evenly across workers. 64 keep-alive connections
// (Node's http.Agent) are opened at once while one of two workers cannot accept (its event loop
// is held busy), so every connection lands on the other: the worst start the kernel can give.
// Once both serve, the pool must spread them within max/min 1.25 (connections per worker pid,
// from /proc); a worker added by a scale-up must get its share; and no request may fail.

import { existsSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { connectionsByPid } from '../harness/procfs.js';
import { get, gsup, load, tempDir, until } from './helpers.js';

const CONNECTIONS = 64;
const BOUND = 1.25;

function counts(pids: number[], port: number): number[] {
  const byPid = connectionsByPid(pids, port);
  return pids.map((p) => byPid.get(p) ?? 0);
}

const spread = (c: number[]) => Math.max(...c) / Math.max(1, Math.min(...c));

test('64 keep-alive connections that all landed on one worker end spread within 1.25, a worker added by scale-up gets its share, and no request fails', async (t) => {
  const dir = tempDir(t, 'balance');
  const release = `${dir}/release`;
  const g = gsup(t, [
    'start',
    'busy-until-released.js',
    '-w',
    '2',
    '--max-workers',
    '4',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ]);
  const url = await g.url();
  const port = Number(new URL(url).port);
  await g.waitForEvent('pool-ready');
  const pids = g.readyPids();

  // Hold one worker's event loop: it cannot accept until `release` exists.
  const held = get(`${url}/busy?until=${encodeURIComponent(release)}`);
  const busy = Number((await g.waitFor(/busy (\d+)/))[1]);
  t.teardown(() => {
    if (!existsSync(release)) writeFileSync(release, '');
  });
  const loadUrl = `${url}/`;
  const traffic = load(loadUrl, CONNECTIONS);
  t.teardown(async () => void (await traffic.stop()));
  const other = pids.find((p) => p !== busy) ?? -1;
  await until(`all ${CONNECTIONS} connections on worker ${other}`, () => {
    const c = counts([other], port);
    return c[0] === CONNECTIONS;
  });
  t.is(counts([busy], port)[0], 1, 'the held worker has only the request holding it');

  writeFileSync(release, '');
  t.regex((await held).body, new RegExp(`^done ${busy}`));
  let last: number[] = [];
  await until(`the connections spread within ${BOUND} across 2 workers`, () => {
    last = counts(pids, port);
    return last.reduce((a, b) => a + b, 0) === CONNECTIONS && spread(last) <= BOUND;
  });
  t.log(`2 workers: ${last.join(' ')}`);

  // Scale up by one: the new worker must get its share (64 / 3 → at least 18 of them).
  const from = g.events.length;
  g.child.kill('SIGTTIN');
  const added = (await g.waitForEvent('worker-ready', undefined, undefined, from)).pid;
  const three = [...pids, added];
  await until(`the connections spread within ${BOUND} across 3 workers`, () => {
    last = counts(three, port);
    return last.reduce((a, b) => a + b, 0) === CONNECTIONS && spread(last) <= BOUND;
  });
  t.log(`3 workers: ${last.join(' ')}`);
  t.true((last[2] ?? 0) >= Math.floor(CONNECTIONS / 3 / BOUND));

  const result = await traffic.stop();
  t.is(result.failed, 0, result.errors.slice(0, 3).join('; '));
  t.true(result.ok > 0);
  // The workers' own reports agree: they closed connections to spread them.
  const status = (await g.status()) as unknown as { workers: Array<{ shed: number }> };
  t.true(status.workers.reduce((n, w) => n + w.shed, 0) > 0);
});

test('with --no-balance the connections stay where the kernel put them', async (t) => {
  const dir = tempDir(t, 'no-balance');
  const release = `${dir}/release`;
  const g = gsup(t, [
    'start',
    'busy-until-released.js',
    '-w',
    '2',
    '--no-balance',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ]);
  const url = await g.url();
  const port = Number(new URL(url).port);
  await g.waitForEvent('pool-ready');
  const pids = g.readyPids();
  const held = get(`${url}/busy?until=${encodeURIComponent(release)}`);
  const busy = Number((await g.waitFor(/busy (\d+)/))[1]);
  t.teardown(() => {
    if (!existsSync(release)) writeFileSync(release, '');
  });
  const traffic = load(`${url}/`, CONNECTIONS);
  t.teardown(async () => void (await traffic.stop()));
  const other = pids.find((p) => p !== busy) ?? -1;
  await until('all connections on the free worker', () => counts([other], port)[0] === CONNECTIONS);
  writeFileSync(release, '');
  await held;
  // Had balance been on, the released worker's first heartbeat would have brought it a share of
  // the connections at once (the test above). Wait for that heartbeat, and then for two more.
  const heartbeats = async (n: number) => {
    const seen = new Set<number>();
    await until(`${n} heartbeats of the released worker`, async () => {
      const s = (await g.status()) as unknown as {
        at: number;
        workers: Array<{ pid: number; requests: number; heartbeatAgeMs: number | null }>;
      };
      const w = s.workers.find((x) => x.pid === busy);
      // Its first report after the release counts the /busy request. Heartbeats are a second
      // apart: the time each arrived, to a quarter second, tells them apart.
      if (w && w.requests > 0 && w.heartbeatAgeMs !== null) {
        seen.add(Math.round((s.at - w.heartbeatAgeMs) / 250));
      }
      return seen.size >= n;
    });
  };
  await heartbeats(3);
  t.deepEqual(counts([busy, other], port), [0, CONNECTIONS]);
  const status = (await g.status()) as unknown as { workers: Array<{ shed: number }> };
  t.is(
    status.workers.reduce((n, w) => n + w.shed, 0),
    0,
  );
  t.is((await traffic.stop()).failed, 0);
});
