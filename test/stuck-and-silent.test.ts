// What the model says of a worker that stops answering, and how often a person reads its stack:
// the current req/s (a rule over heartbeat samples), the `silent` label once heartbeats are
// overdue, and a timeout's stack printed once, without Node's KEYBOARD_INTERRUPT noise.
import test from 'ava';
import { currentRate, RATE_WINDOW_MS, WorkerHandle } from '../src/supervisor/handle.js';
import { SILENT_AFTER_HEARTBEATS, workerSnapshot } from '../src/supervisor/snapshot.js';
import { get, gsup } from './helpers.js';

/** Heartbeat samples, one a second, with these request counts. */
function beats(counts: number[], periodMs = 1000) {
  return counts.map((requests, i) => ({ at: i * periodMs, requests }));
}

test('req/s is the current rate: the burst as it runs, 0 two heartbeats after it stops', (t) => {
  // 4 s at 20,000 req/s from t=2 s, then nothing: counts at each heartbeat.
  const counts = [0, 0, 0, 20_000, 40_000, 60_000, 80_000, 80_000, 80_000, 80_000, 80_000];
  const at = (n: number) => currentRate(beats(counts.slice(0, n + 1)));
  t.is(at(5), 20_000, 'during the burst: its rate, not an average with the quiet before');
  t.is(at(6), 20_000);
  t.is(at(7), 10_000, 'one heartbeat after: half the window was busy');
  t.is(at(8), 0, 'two heartbeats after: 0');
  t.is(currentRate(beats([5])), 0, 'one heartbeat is not a rate');
  // Right after a reload: a new worker's first heartbeat already gives a rate, from its ready.
  t.is(currentRate([{ at: 1000, requests: 300 }], RATE_WINDOW_MS, { at: 0, requests: 0 }), 300);
  t.is(
    currentRate(beats([0, 100, 200, 300]), RATE_WINDOW_MS, { at: -5000, requests: 0 }),
    100,
    'once heartbeats span the window, the ready time is not used',
  );
  // A faster heartbeat (timeout 1 s: every 250 ms) still looks back about RATE_WINDOW_MS.
  const fast = beats([0, 100, 200, 300, 400, 500, 600, 700, 800], 250);
  t.is(currentRate(fast), 400);
  t.true(RATE_WINDOW_MS <= 2000, 'current means the last two seconds at most');
});

/** The time the snapshots below are taken at: every age is counted back from it, not from the clock. */
const NOW = 1_000_000;

function handle(lastHeartbeatAgo: number | null): WorkerHandle {
  const h = new WorkerHandle(1, 1, 1, { pid: 4321, kill: () => true } as never);
  h.moveTo('booting');
  h.moveTo('ready');
  h.lastHeartbeat = lastHeartbeatAgo === null ? null : NOW - lastHeartbeatAgo;
  return h;
}

test('a ready worker whose heartbeats are overdue is labelled silent, and serves 0 req/s', (t) => {
  const slot = { failures: 0, retryAt: 0, restarts: 0, lastExit: null };
  const hb = 1000;
  const late = SILENT_AFTER_HEARTBEATS * hb + 500;
  t.is(workerSnapshot(handle(500), slot, null, NOW, hb).label, 'ready');
  const silent = workerSnapshot(handle(late), slot, null, NOW, hb);
  t.is(silent.label, 'silent');
  t.is(silent.rps, 0);
  t.is(silent.state, 'ready', 'the lifecycle state is unchanged: only the label says it');
  // Being replaced does not hide it.
  t.is(workerSnapshot(handle(late), slot, 'reload', NOW, hb).label, 'silent');
  // With a 1 s timeout workers beat every 250 ms: silent after 750 ms, before the kill.
  t.is(workerSnapshot(handle(800), slot, null, NOW, 250).label, 'silent');
  t.is(workerSnapshot(handle(null), slot, null, NOW, hb).label, 'ready');
  // The supervisor itself just came back from a stall: the heartbeats are queued, not missing.
  t.is(workerSnapshot(handle(late), slot, null, NOW, hb, NOW - 100).label, 'ready');
});

test('a timeout stack is read once in the text log: no KEYBOARD_INTERRUPT, no echo of the trace', async (t) => {
  const g = gsup(t, ['start', 'hang.js', '-w', '1', '-t', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    format: 'text',
  });
  const url = await g.url();
  await g.waitFor(/all 1 workers ready/);
  get(`${url}/spin`).catch(() => undefined);
  await g.waitFor(/killed after timeout .*stuck in stuckInABusyLoop/);
  // The replacement is ready after the exit event and its frames are all written.
  await g.waitFor(/worker 1 \(pid \d+\) ready in/, undefined, g.lines.length);
  const text = g.lines.join('\n');
  t.notRegex(text, /KEYBOARD_INTERRUPT/);
  t.is(text.match(/at stuckInABusyLoop \(/g)?.length, 1, text);
  t.is(text.match(/at app \(/g)?.length, 1, text);
  t.notRegex(text, / err\] +at /, 'no frame echoed as worker output');
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('the exit event carries the frames; the worker output has no trace line', async (t) => {
  const g = gsup(t, ['start', 'hang.js', '-w', '1', '-t', '1', '-b', '127.0.0.1:0']);
  const url = await g.url();
  const first = await g.waitForEvent('worker-ready');
  get(`${url}/spin`).catch(() => undefined);
  const exit = await g.waitForEvent('worker-exit', (e) => e.pid === first.pid);
  await g.waitForEvent('worker-ready', (e) => e.pid !== first.pid);
  t.is(exit.cause, 'timeout');
  t.is(exit.where, 'stuck in stuckInABusyLoop');
  t.regex(exit.stack?.[0] ?? '', /^stuckInABusyLoop \(file:.*hang\.js:\d+:\d+\)$/);
  const trace = g.output.filter(
    (o) => o.pid === first.pid && /KEYBOARD_INTERRUPT|^\s+at /.test(o.line),
  );
  t.deepEqual(trace, []);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});
