// The adapting pool's rules, pure: autoscaling (decideScale) and memory recycling (decideMemory).
// No process, no clock, no socket: each test builds the samples the sampler would have taken
// and checks the decision. Plus the accept-queue reader against a real listening socket that
// nobody accepts from, the size setting and the dashboard's line.

import net from 'node:net';
import test from 'ava';
import { ConfigError, parseStart } from '../src/config/parse.js';
import { autoscaleLine, workersLabel } from '../src/dashboard/adapt.js';
import { acceptQueue, socketInode } from '../src/supervisor/accept-queue.js';
import {
  type AutoscaleDecision,
  type AutoscaleInput,
  type AutoscaleSample,
  type AutoscaleSettings,
  decideScale,
  THRESHOLDS,
} from '../src/supervisor/autoscale.js';
import { openListener, startListening } from '../src/supervisor/listener.js';
import { decideMemory, type MemoryInput, type MemoryWorker } from '../src/supervisor/memory.js';
import type { PoolSnapshot } from '../src/supervisor/snapshot.js';
import { until } from './helpers.js';

const SETTINGS: AutoscaleSettings = {
  min: 1,
  max: 8,
  upAfterMs: 3000,
  downAfterMs: 30_000,
  cooldownMs: 5000,
  ...THRESHOLDS,
};

/** One sample a second from `from` to `to` (ms, inclusive), each made by `at(t)`. */
function series(
  from: number,
  to: number,
  at: (t: number) => Partial<AutoscaleSample>,
): AutoscaleSample[] {
  const out: AutoscaleSample[] = [];
  for (let t = from; t <= to; t += 1000) {
    out.push({ at: t, utilization: 0.5, queued: 0, lagMs: 5, settled: true, ...at(t) });
  }
  return out;
}

function decide(over: Partial<AutoscaleInput>): AutoscaleDecision {
  return decideScale({
    now: 60_000,
    current: 2,
    samples: series(0, 60_000, () => ({})),
    lastChangeAt: null,
    reloading: false,
    settings: SETTINGS,
    ...over,
  });
}

test('saturation: utilization at or above the high mark over the up window scales up at once', (t) => {
  const samples = series(0, 60_000, (at) => ({ utilization: at > 57_000 ? 0.95 : 0.5 }));
  const d = decide({ samples });
  if (d.do !== 'scale') return t.fail(JSON.stringify(d));
  t.is(d.direction, 'up');
  t.is(d.from, 2);
  // ceil(2 × 0.95 / 0.7) = 3: enough workers to bring utilization to the target.
  t.is(d.to, 3);
  t.is(d.reason, 'utilization 0.95 over 3 s');
  t.deepEqual(d.signals, { utilization: 0.95, queued: 0, lagMs: 5, windowMs: 3000 });
});

test('queue: connections waiting in most samples of the up window double the pool, and say how many', (t) => {
  const samples = series(0, 60_000, (at) => ({
    utilization: at > 57_000 ? 0.93 : 0.5,
    queued: at > 57_000 ? 37 : 0,
  }));
  const d = decide({ samples });
  if (d.do !== 'scale') return t.fail(JSON.stringify(d));
  t.is(d.to, 4);
  t.is(d.reason, 'utilization 0.93 over 3 s, 37 connections queued');
  // Even with utilization low (a loop that accepts slowly), a queue that stays says: add workers.
  const queueOnly = series(0, 60_000, (at) => ({ utilization: 0.4, queued: at > 57_000 ? 5 : 0 }));
  const q = decide({ samples: queueOnly });
  t.like(q, { do: 'scale', direction: 'up', from: 2, to: 4 });
});

test('queue: one sample with a connection in the queue is not saturation', (t) => {
  const samples = series(0, 60_000, (at) => ({ queued: at === 59_000 ? 3 : 0 }));
  t.is(decide({ samples }).do, 'hold');
});

test('event-loop lag at or above its mark over the up window scales up', (t) => {
  const samples = series(0, 60_000, (at) => ({ utilization: 0.6, lagMs: at > 57_000 ? 400 : 5 }));
  const d = decide({ samples });
  t.like(d, { do: 'scale', direction: 'up', to: 3 });
  if (d.do === 'scale') t.regex(d.reason, /event-loop lag 400 ms/);
});

test('a brief dip does not scale down: every sample of the down window must be quiet', (t) => {
  const samples = series(0, 60_000, (at) => ({ utilization: at > 50_000 ? 0.05 : 0.6 }));
  t.is(decide({ current: 4, samples }).do, 'hold');
  // One busy moment inside an otherwise quiet half-minute also keeps the count.
  const blip = series(0, 60_000, (at) => ({ utilization: at === 45_000 ? 0.9 : 0.05 }));
  t.is(decide({ current: 4, samples: blip }).do, 'hold');
});

test('a sustained quiet spell scales down by one step only', (t) => {
  const samples = series(0, 60_000, () => ({ utilization: 0.05 }));
  const d = decide({ current: 4, samples });
  if (d.do !== 'scale') return t.fail(JSON.stringify(d));
  t.is(d.direction, 'down');
  t.is(d.to, 3);
  t.is(d.reason, 'utilization 0.05 over 30 s, nothing queued');
});

test('quiet is judged only after the down window has passed since the pool settled', (t) => {
  // Quiet for 60 s, but a worker was still booting at 45 s: only 15 s of the settled pool.
  const samples = series(0, 60_000, (at) => ({ utilization: 0.05, settled: at !== 45_000 }));
  t.is(decide({ current: 4, samples }).do, 'hold');
  // And not before the history itself reaches back that far.
  t.is(
    decide({ current: 4, samples: series(40_000, 60_000, () => ({ utilization: 0 })) }).do,
    'hold',
  );
});

test('scale-down keeps the remaining workers under the target utilization (hysteresis)', (t) => {
  // 2 workers at 0.3: one would run at 0.6, under the 0.7 target: allowed. With a target of 0.5
  // the same pool keeps both: the one left would run above it, and the next look would scale up.
  t.like(decide({ samples: series(0, 60_000, () => ({ utilization: 0.3 })) }), {
    do: 'scale',
    to: 1,
  });
  const tight = { ...SETTINGS, utilizationTarget: 0.5 };
  t.is(
    decide({ samples: series(0, 60_000, () => ({ utilization: 0.3 })), settings: tight }).do,
    'hold',
  );
});

test('the cool-down: no change within it after the last one, whichever way', (t) => {
  const busy = series(0, 60_000, () => ({ utilization: 1 }));
  const d = decide({ samples: busy, lastChangeAt: 57_000 });
  t.is(d.do, 'hold');
  if (d.do === 'hold') t.regex(d.why, /cooling down/);
  // Past the cool-down, the up window must also lie wholly after the change.
  t.is(decide({ samples: busy, lastChangeAt: 55_000, now: 57_500 }).do, 'hold');
  t.like(decide({ samples: busy, lastChangeAt: 55_000, now: 60_000 }), { do: 'scale' });
});

test('bounds: never above max, never below min; out of bounds is brought back', (t) => {
  const busy = series(0, 60_000, () => ({ utilization: 1, queued: 50 }));
  const atMax = decide({ samples: busy, current: 8 });
  t.is(atMax.do, 'hold');
  if (atMax.do === 'hold') t.regex(atMax.why, /at max-workers 8/);
  t.like(decide({ samples: busy, current: 6 }), { do: 'scale', to: 8 });
  const quiet = series(0, 60_000, () => ({ utilization: 0 }));
  t.is(decide({ samples: quiet, current: 1 }).do, 'hold');
  const settings = { ...SETTINGS, min: 3, max: 5 };
  t.like(decide({ samples: quiet, current: 2, settings }), {
    do: 'scale',
    to: 3,
    reason: 'below min-workers 3',
  });
  t.like(decide({ samples: quiet, current: 7, settings }), {
    do: 'scale',
    to: 5,
    reason: 'above max-workers 5',
  });
});

test('a reload in progress: nothing, not even a bound', (t) => {
  const busy = series(0, 60_000, () => ({ utilization: 1, queued: 50 }));
  t.deepEqual(decide({ samples: busy, reloading: true }), {
    do: 'hold',
    why: 'a reload is running',
  });
  t.is(decide({ current: 0, reloading: true }).do, 'hold');
});

test('samples taken while the pool was not settled are not read: no second step before the first lands', (t) => {
  const samples = series(0, 60_000, (at) => ({ utilization: 1, settled: at < 58_000 }));
  t.is(decide({ samples }).do, 'hold');
});

test('unknown signals (no heartbeats yet, a unix socket) neither scale up nor down', (t) => {
  const blank = series(0, 60_000, () => ({ utilization: null, queued: null, lagMs: null }));
  t.is(decide({ current: 4, samples: blank }).do, 'hold');
});

/**
 * A closed loop: a steady demand of `demand` busy workers' worth of work, spread over the pool;
 * each second the pool is sampled and the rule asked. New workers are ready 2 s after a change.
 */
function simulate(demand: number, start: number, seconds: number, settings = SETTINGS) {
  let current = start;
  let lastChangeAt: number | null = null;
  let settledAt = 0;
  const samples: AutoscaleSample[] = [];
  const changes: Array<{ at: number; from: number; to: number }> = [];
  for (let now = 0; now <= seconds * 1000; now += 1000) {
    const utilization = Math.min(1, demand / current);
    const queued = demand > current ? Math.round((demand - current) * 10) : 0;
    samples.push({ at: now, utilization, queued, lagMs: 2, settled: now >= settledAt });
    const d = decideScale({ now, current, samples, lastChangeAt, reloading: false, settings });
    if (d.do === 'scale') {
      changes.push({ at: now, from: d.from, to: d.to });
      current = d.to;
      lastChangeAt = now;
      settledAt = now + 2000;
    }
  }
  return { current, changes };
}

test('no oscillation on a steady signal: the count moves one way and stays', (t) => {
  for (const demand of [0.2, 0.9, 1.5, 2.5, 3.3, 5, 7.5, 12]) {
    for (const start of [1, 2, 4, 8]) {
      const { current, changes } = simulate(demand, start, 600);
      const ups = changes.filter((c) => c.to > c.from).length;
      const downs = changes.filter((c) => c.to < c.from).length;
      const label = `demand ${demand}, start ${start}: ${JSON.stringify(changes)}`;
      t.true(ups === 0 || downs === 0, `both ways: ${label}`);
      // Settled for the last five minutes: no change at all in that half.
      t.false(
        changes.some((c) => c.at > 300_000),
        `still moving after 5 minutes: ${label}`,
      );
      t.true(current >= 1 && current <= 8, label);
      if (demand >= 7.5) t.is(current, 8, label);
    }
  }
});

test('a load step: up within seconds, back down one step at a time after it stops', (t) => {
  let current = 1;
  let lastChangeAt: number | null = null;
  const samples: AutoscaleSample[] = [];
  const log: string[] = [];
  for (let now = 0; now <= 400_000; now += 1000) {
    const demand = now >= 10_000 && now < 100_000 ? 3 : 0.05;
    samples.push({
      at: now,
      utilization: Math.min(1, demand / current),
      queued: demand > current ? 20 : 0,
      lagMs: 2,
      settled: lastChangeAt === null || now >= lastChangeAt + 2000,
    });
    const d = decideScale({
      now,
      current,
      samples,
      lastChangeAt,
      reloading: false,
      settings: { ...SETTINGS, max: 4 },
    });
    if (d.do === 'scale') {
      log.push(`${now / 1000}s ${d.from}→${d.to}`);
      current = d.to;
      lastChangeAt = now;
    }
  }
  t.is(current, 1, log.join(', '));
  const firstUp = log[0] ?? '';
  t.regex(firstUp, /^1[0-4]s 1→2$/, log.join(', '));
  t.true(
    log.some((l) => l.endsWith('→4')),
    `reached max: ${log.join(', ')}`,
  );
  // Down one step at a time, each at least the down window after the previous change.
  const downs = log.filter((l) => {
    const [from, to] = (l.split(' ')[1] ?? '').split('→').map(Number);
    return (to ?? 0) < (from ?? 0);
  });
  t.true(downs.length >= 3, log.join(', '));
  for (const d of downs) {
    const [from, to] = (d.split(' ')[1] ?? '').split('→').map(Number);
    t.is((from ?? 0) - (to ?? 0), 1, d);
  }
});

// ---- memory -----------------------------------------------------------------------------

const MB = 1024 * 1024;

function memWorker(id: number, over: Partial<MemoryWorker> = {}): MemoryWorker {
  return {
    id,
    slot: id,
    pid: 1000 + id,
    state: 'ready',
    recycling: false,
    readyAt: 0,
    rss: [100 * MB, 100 * MB, 100 * MB],
    ...over,
  };
}

function memory(over: Partial<MemoryInput>) {
  return decideMemory({
    now: 120_000,
    limitBytes: 512 * MB,
    samples: 3,
    minAgeMs: 60_000,
    workers: [memWorker(1), memWorker(2)],
    reloading: false,
    ...over,
  });
}

test('memory: a worker over the limit for the given number of readings in a row is recycled, with why', (t) => {
  const v = memory({
    workers: [memWorker(1), memWorker(2, { rss: [520 * MB, 525 * MB, 530 * MB] })],
  });
  t.like(v, { id: 2, pid: 1002, slot: 2, rssBytes: 530 * MB, limitBytes: 512 * MB, samples: 3 });
  t.is(v?.why, 'rss 530 MB over 512 MB for 3 samples');
});

test('memory: one reading under the limit among the last few, or too few readings, is not enough', (t) => {
  t.is(memory({ workers: [memWorker(1, { rss: [600 * MB, 400 * MB, 600 * MB] })] }), null);
  t.is(memory({ workers: [memWorker(1, { rss: [600 * MB, 600 * MB] })] }), null);
  // Exactly at the limit is not over it.
  t.is(memory({ workers: [memWorker(1, { rss: [512 * MB, 512 * MB, 512 * MB] })] }), null);
});

test('memory: not before the minimum age, not while one is being replaced, not during a reload', (t) => {
  const fat = { rss: [900 * MB, 900 * MB, 900 * MB] };
  t.is(memory({ workers: [memWorker(1, { ...fat, readyAt: 70_000 })] }), null);
  t.is(memory({ workers: [memWorker(1, { ...fat, readyAt: 60_000 })] })?.id, 1);
  t.is(
    memory({ workers: [memWorker(1, fat), memWorker(2, { recycling: true, state: 'draining' })] }),
    null,
  );
  t.is(memory({ workers: [memWorker(1, fat)], reloading: true }), null);
  // A worker not serving yet, or already draining, is not picked.
  t.is(memory({ workers: [memWorker(1, { ...fat, state: 'booting', readyAt: null })] }), null);
});

test('memory: of several over the limit, the largest goes first, one at a time', (t) => {
  const v = memory({
    workers: [
      memWorker(1, { rss: [600 * MB, 600 * MB, 600 * MB] }),
      memWorker(2, { rss: [700 * MB, 700 * MB, 800 * MB] }),
      memWorker(3, { rss: [650 * MB, 650 * MB, 650 * MB] }),
    ],
  });
  t.is(v?.id, 2);
});

// ---- the size setting and the cross-setting checks ----------------------------------------

test('--max-worker-memory reads 512M, 1G, 1.5g, 800MB; bad sizes are one line naming the value and the form', (t) => {
  const size = (v: string) => parseStart(['--max-worker-memory', v], {}).config.maxWorkerMemory;
  t.is(size('512M'), 512 * MB);
  t.is(size('1G'), 1024 * MB);
  t.is(size('1.5g'), 1536 * MB);
  t.is(size('800MB'), 800 * MB);
  t.is(parseStart([], {}).config.maxWorkerMemory, null);
  for (const bad of ['lots', '512X', '-1G', '1M', '']) {
    const err = t.throws(() => size(bad), { instanceOf: ConfigError });
    t.regex(
      err?.message ?? '',
      /^max-worker-memory: expected a size like 512M or 1G .*from 32M to 1024G, got ".*" \(from the command line\)$/,
      bad,
    );
  }
});

test('autoscale bounds: min above max, or -w below min, is one line with the fix', (t) => {
  const err = t.throws(() => parseStart(['--min-workers', '5', '--max-workers', '4'], {}), {
    instanceOf: ConfigError,
  });
  t.is(
    err?.message,
    'min-workers: 5 is above max-workers 4 (from the command line); lower min-workers or raise max-workers',
  );
  const low = t.throws(() => parseStart(['--autoscale', '-w', '1', '--min-workers', '2'], {}), {
    instanceOf: ConfigError,
  });
  t.regex(low?.message ?? '', /^workers: 1 is below min-workers 2 \(from the command line\); /);
  // A worker count left at its default starts at min-workers.
  const c = parseStart(['--autoscale', '--min-workers', '3'], {
    WEB_CONCURRENCY: undefined,
  }).config;
  t.true(c.workers >= 3);
  t.true(c.autoscale);
});

// ---- the accept queue, read from the kernel ---------------------------------------------

test('the accept queue of a listening socket nobody accepts from counts the waiting connections', async (t) => {
  const listener = await openListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const clients: net.Socket[] = [];
  t.teardown(() => {
    for (const c of clients) c.destroy();
    listener.close();
  });
  await startListening([listener], 64);
  const inode = socketInode(listener.fd);
  if (!inode) return t.fail('no socket inode for the listener fd');
  t.is(acceptQueue(inode), 0);
  for (let i = 0; i < 3; i++) {
    clients.push(net.connect(listener.port ?? 0, '127.0.0.1'));
  }
  await until('three connections wait in the queue', () => acceptQueue(inode) === 3);
  t.is(acceptQueue(inode), 3);
  t.is(acceptQueue('1'), null, 'an inode that is no LISTEN socket is unknown');
});

// ---- the view -----------------------------------------------------------------------------

test('the dashboard line: on with bounds, signals, status and the last decision; off says how to turn it on', (t) => {
  const base = { memory: null } as unknown as PoolSnapshot;
  const on = {
    ...base,
    autoscale: {
      enabled: true,
      min: 1,
      max: 4,
      upAfterS: 3,
      downAfterS: 30,
      cooldownS: 5,
      signals: { utilization: 0.93, queued: 37, lagMs: 12.4 },
      queueNote: null,
      status: 'steady: utilization 0.93',
      last: {
        at: Date.UTC(2026, 0, 1, 12, 0, 1),
        from: 2,
        to: 4,
        direction: 'up',
        reason: 'utilization 0.93 over 3 s, 37 connections queued',
      },
    },
  } as PoolSnapshot;
  t.is(
    autoscaleLine(on),
    'autoscale on 1..4: util 0.93, 37 queued, lag 12 ms; steady: utilization 0.93; last 2→4 (12:00:01): utilization 0.93 over 3 s, 37 connections queued',
  );
  const label = workersLabel(on, ' workers ', 60);
  t.true(label.length <= 56, label);
  t.true(label.startsWith(' workers · autoscale on 1..4'));
  // Rows out of sight are said first, and never cut for the autoscale line.
  const hidden = workersLabel(on, ' workers: 11 of 12 shown, ↓ for more ', 60);
  t.true(hidden.startsWith(' workers: 11 of 12 shown, ↓ for more · autoscale on'), hidden);
  t.true(hidden.length <= 56, hidden);
  const off = { ...on, autoscale: { ...on.autoscale, enabled: false } } as PoolSnapshot;
  t.is(autoscaleLine(off), 'autoscale off (a: on)');
  t.is(workersLabel({ ...base } as PoolSnapshot, ' workers ', 80), ' workers ');
});
