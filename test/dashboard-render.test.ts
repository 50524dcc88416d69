// The dashboard as a pure view: synthetic snapshots (64 workers, a flapping slot, stale
// heartbeats) rendered into a headless terminal, and the text helpers behind it.
import { EventEmitter } from 'node:events';
import test from 'ava';
import { Dashboard, type PoolSource } from '../dist/dashboard/dashboard.js';
import { columnsFor, heartbeatColor, plain, sanitize, tableRow } from '../dist/dashboard/format.js';
import type { PoolSnapshot, WorkerSnapshot } from '../dist/index.js';
import { until } from './helpers.js';
import { HeadlessTerminal, KEYS } from './term.js';

function worker(i: number, over: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  return {
    id: i,
    slot: i,
    pid: 40000 + i,
    gen: 1,
    state: 'ready',
    label: 'ready',
    replacing: null,
    uptimeMs: 60_000,
    requests: 100 * i,
    rps: i,
    inFlight: 0,
    busyMs: 0,
    utilization: null,
    conns: 0,
    shed: 0,
    status: [0, 100 * i, 0, 0, 0],
    p50Ms: 1,
    p99Ms: 5,
    lagMs: 0.5,
    cpu: 3,
    rss: 50 * 1024 * 1024,
    heartbeatAgeMs: 300,
    restarts: 0,
    lastExit: null,
    stuckStack: null,
    ...over,
  };
}

function snapshot(workers: WorkerSnapshot[], over: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    at: Date.now(),
    pid: 4242,
    app: 'app.js',
    listening: ['http://127.0.0.1:8000'],
    versions: { gsup: '0.1.0', node: process.version },
    state: 'running',
    uptimeMs: 3_600_000,
    target: workers.length,
    maxWorkers: 64,
    live: workers.length,
    ready: workers.length,
    timeoutMs: 30_000,
    utilization: null,
    totals: {
      requests: 1,
      rps: 1,
      inFlight: 0,
      busyMs: 0,
      status: [0, 1, 0, 0, 0],
      restarts: 0,
      reloads: 0,
    },
    reload: null,
    workers,
    waiting: [],
    events: [],
    ...over,
  };
}

function render(snap: PoolSnapshot, cols: number, rows: number) {
  const term = new HeadlessTerminal(cols, rows);
  const source = Object.assign(new EventEmitter(), {
    snapshot: () => snap,
  }) as unknown as PoolSource;
  const dash = new Dashboard({
    source,
    commands: {
      scale: () => ({ ok: false, error: 'not in this test' }),
      reload: async () => ({ ok: true, message: '' }),
      stop: () => 0,
      recycle: () => false,
      kill: () => false,
    },
    refreshMs: 100,
    input: term.input,
    output: term.output,
  });
  dash.start();
  return { term, dash };
}

test.serial(
  '64 workers: the table scrolls to keep the selected row on screen at 80×24',
  async (t) => {
    const { term, dash } = render(
      snapshot(Array.from({ length: 64 }, (_, i) => worker(i + 1))),
      80,
      24,
    );
    t.teardown(() => dash.destroy());
    await until('the first rows are drawn', () => term.text().includes('40001'));
    t.false(term.text().includes('40064'), 'not every row fits');
    for (let i = 0; i < 63; i++) term.press(KEYS.down);
    await until('the last worker is on screen', () => term.text().includes('40064'));
    t.false(term.text().includes('40001'), 'the top scrolled away');
  },
);

test.serial('a flapping slot and the reload progress show in the header', async (t) => {
  const snap = snapshot(
    [worker(1), worker(2, { state: 'booting', label: 'flapping', heartbeatAgeMs: null })],
    {
      state: 'reloading',
      reload: { newReady: 1, oldLeft: 1, oldTotal: 2, startedAt: Date.now() },
      waiting: [{ slot: 3, failures: 4, retryInMs: 800, lastExit: 'boot failed' }],
    },
  );
  const { term, dash } = render(snap, 120, 40);
  t.teardown(() => dash.destroy());
  await until('drawn', () => term.text().includes('RELOADING'));
  t.regex(term.text(), /RELOADING 1 new ready \/ 1 of 2 old drained/);
  t.regex(term.text(), /slot 3 flapping \(4 failed boots, retry in 0\.8s\)/);
  t.regex(term.text(), /40002\s+flapping/);
});

test('heartbeat age turns yellow past half the timeout and red past 80 %', (t) => {
  t.is(heartbeatColor(1000, 30_000), 'green');
  t.is(heartbeatColor(15_000, 30_000), 'yellow');
  t.is(heartbeatColor(24_000, 30_000), 'red');
  t.is(heartbeatColor(null, 30_000), null);
  const row = tableRow(worker(1, { heartbeatAgeMs: 25_000 }), snapshot([]), columnsFor(100));
  t.regex(row, /\{red-fg\}\s*25\.0s\{\/red-fg\}/);
});

test('narrow terminals drop low-priority columns first; the essentials stay', (t) => {
  const narrow = columnsFor(60).map((c) => c.title);
  for (const must of ['SLOT', 'PID', 'STATE', 'HB']) t.true(narrow.includes(must), must);
  t.false(narrow.includes('LAG'));
  const wide = columnsFor(200).map((c) => c.title);
  t.true(wide.includes('LAG') && wide.includes('UPTIME'));
  t.true(plain(tableRow(worker(7), snapshot([]), columnsFor(60))).length <= 60);
});

test('worker output is made safe: no escapes, no control bytes', (t) => {
  t.is(sanitize('\x1b[2J\x1b[Hhi\x1b]0;title\x07 there\x08!'), 'hi there!');
});
