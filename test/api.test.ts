// The programmatic API the CLI is built on: import { Supervisor } from 'gsup'.
import test from 'ava';
import { Supervisor } from '../dist/index.js';
import { get, poolOptions, until } from './helpers.js';

const options = poolOptions;

function started(t: import('ava').ExecutionContext, sup: Supervisor): void {
  t.teardown(async () => {
    await sup.stop({ quick: true });
  });
}

test('per-worker request counts add up to the requests sent', async (t) => {
  const sup = new Supervisor(options({ workers: 3 }));
  started(t, sup);
  await sup.start();
  const url = sup.urls[0] ?? '';
  await until('3 workers are ready', () => sup.snapshot().ready === 3);
  const sent = 90;
  const replies = await Promise.all(Array.from({ length: sent }, () => get(`${url}/slow?ms=20`)));
  t.true(replies.every((r) => r.status === 200));
  // Counters travel in heartbeats (every 1 s at most): wait for them to arrive.
  // A request is counted when it starts and its status when its response closes: wait until a
  // heartbeat reports every request started and none still in flight.
  await until('heartbeats report every request, finished', () => {
    const totals = sup.snapshot().totals;
    return totals.requests === sent && totals.inFlight === 0;
  });
  const snap = sup.snapshot();
  const perWorker = snap.workers.map((w) => w.requests ?? -1);
  t.is(
    perWorker.reduce((a, b) => a + b, 0),
    sent,
  );
  t.is(snap.totals.status[1], sent, '2xx count');
  t.true(perWorker.filter((n) => n > 0).length >= 2, `split: ${perWorker.join(', ')}`);
  for (const w of snap.workers) {
    t.is(w.state, 'ready');
    t.true(w.pid > 0);
    t.not(w.heartbeatAgeMs, null);
    if ((w.requests ?? 0) > 0)
      t.true((w.p99Ms ?? 0) >= 10, `p99 ${w.p99Ms} ms for 20 ms responses`);
  }
});

test('scale, recycle and kill through the API; the snapshot follows', async (t) => {
  const sup = new Supervisor(options({ workers: 1 }));
  started(t, sup);
  await sup.start();
  await until('1 worker ready', () => sup.snapshot().ready === 1);
  t.like(sup.scale({ to: 3 }), { ok: true, to: 3 });
  await until('3 workers ready', () => sup.snapshot().ready === 3);
  // Past maxWorkers a request is refused, not capped (issue 10: one answer for 103 and +100).
  t.deepEqual(sup.scale({ by: 100 }), {
    ok: false,
    error: '103 is above max-workers 8 (start gsup with a higher --max-workers)',
  });
  t.is(sup.snapshot().target, 3);
  t.like(sup.scale({ to: 2 }), { ok: true, to: 2 });
  await until('2 workers live', () => sup.snapshot().live === 2);

  const victim = sup.snapshot().workers[0]?.pid ?? -1;
  t.true(sup.recycle(victim));
  await until('the recycled worker is gone and 2 are ready', () => {
    const s = sup.snapshot();
    return !s.workers.some((w) => w.pid === victim) && s.ready === 2;
  });

  const killed = sup.snapshot().workers[0]?.pid ?? -1;
  t.true(sup.kill(killed));
  await until('the killed worker is replaced', () => {
    const s = sup.snapshot();
    return !s.workers.some((w) => w.pid === killed) && s.ready === 2;
  });
  t.is(sup.snapshot().totals.restarts, 1);
  t.false(sup.kill(999999999), 'no such worker');
});

test('reload() resolves when done; concurrent reloads are coalesced into one more', async (t) => {
  const sup = new Supervisor(options({ workers: 2 }));
  started(t, sup);
  await sup.start();
  await until('2 workers ready', () => sup.snapshot().ready === 2);
  const first = sup.reload();
  const second = sup.reload();
  const third = sup.reload();
  const [a, b, c] = await Promise.all([first, second, third]);
  t.true(a.ok, a.message);
  t.true(b.ok, b.message);
  t.is(b, c, 'the second and third share one run');
  t.is(sup.snapshot().totals.reloads, 2);
  t.is(sup.snapshot().ready, 2);
});

test('max-requests recycles a worker, its replacement ready first', async (t) => {
  const sup = new Supervisor(options({ workers: 1, maxRequests: 20, maxRequestsJitter: 5 }));
  started(t, sup);
  await sup.start();
  const url = sup.urls[0] ?? '';
  await until('1 worker ready', () => sup.snapshot().ready === 1);
  const first = sup.snapshot().workers[0]?.pid;
  for (let i = 0; i < 30; i++) t.is((await get(url)).status, 200);
  await until('the first worker was replaced', () => {
    const s = sup.snapshot();
    return s.ready === 1 && s.workers.every((w) => w.pid !== first);
  });
  const events = sup.snapshot().events;
  const recycled = events.findIndex(
    (e) =>
      e.type === 'worker-recycle' && e.slot === 1 && e.pid === first && /max-requests/.test(e.why),
  );
  const drained = events.findIndex((e) => e.type === 'worker-drain' && e.pid === first);
  const readyAgain = events.findIndex((e, i) => i > recycled && e.type === 'worker-ready');
  const log = events.map((e) => e.message).join('\n');
  t.true(recycled >= 0 && readyAgain > recycled && drained > readyAgain, log);
});

test('garbage on the IPC channel is reported, never crashes the supervisor', async (t) => {
  const sup = new Supervisor(options({ app: 'sends-bad-ipc.js', workers: 1 }));
  started(t, sup);
  await sup.start();
  const url = sup.urls[0] ?? '';
  await until('1 worker ready', () => sup.snapshot().ready === 1);
  for (let i = 0; i < 10; i++) t.is((await get(url)).status, 200);
  await until('the bad messages are logged', () =>
    sup.snapshot().events.some((e) => e.message.includes('ignored silently')),
  );
  const warnings = sup
    .snapshot()
    .events.filter(
      (e) => e.message.includes('sent malformed') || e.message.includes('not a gsup message'),
    );
  t.is(warnings.length, 3, 'logged a few times, then quiet');
  t.is(sup.snapshot().ready, 1);
});

test('busy time: a worker with a request in flight reports utilization; an idle one reports none', async (t) => {
  const sup = new Supervisor(options({ workers: 2 }));
  started(t, sup);
  await sup.start();
  const url = sup.urls[0] ?? '';
  await until('2 workers are ready', () => sup.snapshot().ready === 2);
  // Held for as long as the test needs: the worker stays busy across several heartbeats.
  const held = get(`${url}/slow?ms=60000`).catch(() => null);
  await until('the request is in flight', () => sup.snapshot().totals.inFlight === 1);
  await until('both workers report utilization, the busy one over half its recent time', () => {
    const workers = sup.snapshot().workers;
    const busy = workers.find((w) => w.inFlight === 1);
    const idle = workers.find((w) => w.inFlight === 0);
    return (busy?.utilization ?? 0) > 0.5 && idle?.utilization != null;
  });
  const snap = sup.snapshot();
  const idle = snap.workers.find((w) => w.inFlight === 0);
  t.is(idle?.utilization, 0, 'the idle worker was never busy');
  t.true(
    (snap.utilization ?? 0) > 0.25 && (snap.utilization ?? 1) < 0.75,
    `pool ${snap.utilization}`,
  );
  t.true(snap.totals.busyMs >= (snap.workers.find((w) => w.inFlight === 1)?.busyMs ?? 0));
  await sup.stop({ quick: true });
  await held;
});

test('a drained worker counts its last requests: totals keep what it served after its last heartbeat', async (t) => {
  const sup = new Supervisor(options({ workers: 2 }));
  started(t, sup);
  await sup.start();
  const url = sup.urls[0] ?? '';
  await until('2 workers are ready', () => sup.snapshot().ready === 2);
  const sent = 40;
  await Promise.all(Array.from({ length: sent }, () => get(`${url}/`)));
  // At once, well inside a heartbeat period: what a drained worker served since its last
  // heartbeat reaches the totals only through the heartbeat it sends on its way out.
  const exited = new Promise<void>((resolve) =>
    sup.on('event', (e) => e.type === 'worker-exit' && resolve()),
  );
  t.true(sup.scale({ to: 1 }).ok);
  await exited;
  await until('the totals count every request sent', () => {
    const totals = sup.snapshot().totals;
    return totals.requests >= sent && totals.status[1] >= sent;
  });
  t.is(sup.snapshot().totals.requests, sent);
  t.is(sup.snapshot().totals.status[1], sent);
});
