// The per-class pieces as pure logic: how a stuck stack is asked for and read (node, wsgi, exec),
// what the snapshot and the dashboard say of a worker whose counts gsup cannot know, and how an
// exec app's command line is split into words.
import test from 'ava';
import { columnsFor, tableRow } from '../dist/dashboard/format.js';
import type { PoolSnapshot } from '../dist/index.js';
import { WorkerHandle } from '../dist/supervisor/handle.js';
import { workerSnapshot } from '../dist/supervisor/snapshot.js';
import { splitCommand, type WorkerClass } from '../dist/supervisor/spawn.js';

function handle(kind: WorkerClass): { w: WorkerHandle; signals: string[] } {
  const signals: string[] = [];
  const proc = { pid: 4242, kill: (s: string) => signals.push(s), send: () => undefined };
  const w = new WorkerHandle(1, 1, 1, proc, kind);
  w.moveTo('booting');
  w.moveTo('ready');
  return { w, signals };
}

const SLOT = { failures: 0, retryAt: 0, restarts: 0, lastExit: null };

/** What faulthandler prints on SIGINT for a Django view spinning in the main thread. */
const DUMP = [
  'Thread 0x00007f0a1b2c3700 (most recent call first):',
  '  File "/usr/lib/python3.11/threading.py", line 324 in wait',
  '  File "/usr/lib/python3.11/threading.py", line 622 in run',
  '',
  'Current thread 0x00007f0a1d4e5740 (most recent call first):',
  '  File "/srv/mysite/mysite/views.py", line 31 in spin_forever',
  '  File "/usr/lib/python3/dist-packages/django/core/handlers/base.py", line 181 in _get_response',
  '  File "/opt/gsup/python/gsup_wsgi.py", line 420 in serve',
];

test('wsgi: SIGINT asks faulthandler; the current thread of its dump is the stuck stack, innermost first', (t) => {
  const { w, signals } = handle('wsgi');
  w.murder('timeout');
  t.deepEqual(signals, ['SIGINT']);
  t.not(w.killAt, null, 'SIGKILL follows after a grace');
  for (const line of DUMP) w.stderrLine(line);
  t.deepEqual(w.stuckStack, [
    'spin_forever (/srv/mysite/mysite/views.py:31)',
    '_get_response (/usr/lib/python3/dist-packages/django/core/handlers/base.py:181)',
    'serve (/opt/gsup/python/gsup_wsgi.py:420)',
  ]);
  t.regex(
    w.whereStuck(),
    /^stuck at spin_forever \(\/srv\/mysite\/mysite\/views\.py:31\) ← _get_response/,
  );
});

test('wsgi: a dump with no current thread keeps the first thread; node frames mean nothing to it', (t) => {
  const { w } = handle('wsgi');
  w.murder('timeout');
  w.stderrLine('    at spin (/app.js:1:1)');
  w.stderrLine('Stack (most recent call first):');
  w.stderrLine('  File "/app/wsgi.py", line 3 in application');
  w.stderrLine('Thread 0x01 (most recent call first):');
  w.stderrLine('  File "/app/other.py", line 9 in elsewhere');
  t.deepEqual(w.stuckStack, ['application (/app/wsgi.py:3)']);
});

test('node: SIGINT first, and --trace-sigint frames are read', (t) => {
  const { w, signals } = handle('node');
  w.murder('timeout');
  t.deepEqual(signals, ['SIGINT']);
  w.stderrLine('KEYBOARD_INTERRUPT: Script execution was interrupted by `SIGINT`');
  w.stderrLine('    at stuckInABusyLoop (/app/hang.js:4:3)');
  t.deepEqual(w.stuckStack, ['stuckInABusyLoop (/app/hang.js:4:3)']);
});

test('exec: no stack can be asked for: SIGKILL at once, and the log says the stack is unknown', (t) => {
  const { w, signals } = handle('exec');
  w.murder('timeout');
  t.deepEqual(signals, ['SIGKILL']);
  w.stderrLine('  File "/x.py", line 1 in f');
  t.regex(w.whereStuck(), /stack unknown/);
});

test('an exec worker that sends no counters has unknown counts: null in the snapshot, - on the dashboard', (t) => {
  const exec = workerSnapshot(handle('exec').w, SLOT, null, 1000);
  t.is(exec.requests, null);
  t.is(exec.rps, null);
  t.is(exec.inFlight, null);
  t.is(exec.busyMs, null);
  t.is(exec.status, null);
  t.is(exec.p99Ms, null);
  // A node worker before its first heartbeat has counted nothing yet: zero is true there.
  const node = workerSnapshot(handle('node').w, SLOT, null, 1000);
  t.is(node.requests, 0);
  t.deepEqual(node.status, [0, 0, 0, 0, 0]);
  const snap = { timeoutMs: 30_000 } as PoolSnapshot;
  const row = tableRow(exec, snap, columnsFor(200));
  const cells = row
    .replace(/\{[^}]*\}/g, '')
    .trim()
    .split(/\s+/);
  // SLOT PID STATE UPTIME REQS REQ/S INFL ...
  t.deepEqual(cells.slice(4, 7), ['-', '-', '-']);
});

test('an exec worker that speaks the protocol is counted like any other', (t) => {
  const { w } = handle('exec');
  w.recordHeartbeat({
    requests: 7,
    inFlight: 1,
    busyMs: 10,
    conns: 1,
    shed: 0,
    status: [0, 7, 0, 0, 0],
    latency: [],
    lagMs: { mean: 0, max: 0 },
    rss: 1,
    heapUsed: 0,
  });
  const s = workerSnapshot(w, SLOT, null, 1000);
  t.is(s.requests, 7);
  t.is(s.inFlight, 1);
});

test('splitCommand: words, quotes and backslashes as a shell splits them, nothing else', (t) => {
  t.deepEqual(splitCommand('uvicorn --fd 3 app:app'), ['uvicorn', '--fd', '3', 'app:app']);
  t.deepEqual(splitCommand("  sh -c 'exec  python3 x.py'  "), ['sh', '-c', 'exec  python3 x.py']);
  t.deepEqual(splitCommand('a "b \\"c\\" d" e\\ f'), ['a', 'b "c" d', 'e f']);
  t.deepEqual(splitCommand('x "" y'), ['x', '', 'y']);
  t.deepEqual(splitCommand('$HOME/bin/app *'), ['$HOME/bin/app', '*']);
  t.deepEqual(splitCommand(''), []);
});
