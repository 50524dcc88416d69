// The adapting pool, end to end: the real CLI, real workers, real load from this process.
// Autoscale grows a CPU-bound pool from min-workers under load and shrinks it back once the load
// stops; memory recycling replaces a worker that leaks on purpose without failing a request.
// Every wait is on a typed event (no sleeps), with the harness's generous deadlines.

import test from 'ava';
import { Supervisor } from '../dist/index.js';
import { dashboardRig } from './dashboard-rig.js';
import { get, gsup, gsupVerb, load, poolOptions, tempDir, until } from './helpers.js';

/** Keeps `n` loops of connection-per-request GETs going until stopped; counts answers and failures. */
function hammer(url: string, n: number): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loop = async () => {
    while (running) {
      try {
        const r = await get(url);
        if (r.status === 200) ok++;
        else failed.push(`status ${r.status}`);
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: n }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

test('autoscale: a CPU-bound pool under load grows from min-workers, and shrinks back after the load stops', async (t) => {
  const g = gsup(t, [
    'start',
    'burns-cpu.js',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--autoscale',
    '-w',
    '1',
    '--min-workers',
    '1',
    '--max-workers',
    '3',
    '--scale-up-after',
    '1',
    '--scale-down-after',
    '3',
    '--scale-cooldown',
    '1',
  ]);
  await g.waitForEvent('pool-ready');
  const url = `${await g.url()}/?ms=25`;
  // Four clients, each a new connection per request: more work than one worker can do.
  const traffic = hammer(url, 4);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await traffic.stop();
  });
  const up = await g.waitForEvent('autoscale', (e) => e.direction === 'up');
  t.is(up.from, 1);
  t.true(up.to >= 2 && up.to <= 3, `to ${up.to}`);
  t.regex(up.reason, /utilization \d\.\d\d over 1 s|connections? queued/);
  t.regex(up.message, /^autoscale 1→[23]: /);
  await g.waitForEvent('worker-ready', (e) => e.slot === 2);
  stopped = true;
  const result = await traffic.stop();
  t.true(result.ok > 0);
  t.deepEqual(result.failed, []);
  // Quiet now (an up decided on the last second of load may still land): then one step down at
  // a time, back to min-workers, and no way back up.
  const down = await g.waitForEvent('autoscale', (e) => e.direction === 'down' && e.to === 1);
  t.regex(down.reason, /^utilization 0\.\d\d over 3 s/);
  const decisions = g.events.flatMap((e) => (e.type === 'autoscale' ? [e] : []));
  t.log(decisions.map((e) => e.message).join('\n'));
  const firstDown = decisions.findIndex((e) => e.direction === 'down');
  for (const e of decisions.slice(firstDown)) {
    t.is(e.direction, 'down', e.message);
    t.is(e.from - e.to, 1, e.message);
  }
  await g.waitForEvent('worker-exit', (e) => e.cause === 'drained');
  // The snapshot carries the state the views show.
  const status = await gsupVerb(['status', '--json'], { XDG_RUNTIME_DIR: g.runtimeDir });
  const snap = JSON.parse(status.stdout) as {
    target: number;
    autoscale: { enabled: boolean; min: number; max: number; last: { to: number } | null };
  };
  t.is(snap.target, 1);
  t.like(snap.autoscale, { enabled: true, min: 1, max: 3, last: { to: 1 } });
});

test('autoscale on|off from the CLI: the switch, its event and the snapshot agree', async (t) => {
  const g = gsup(t, ['start', 'burns-cpu.js', '-b', '127.0.0.1:0', '--no-tui', '-w', '1']);
  await g.waitForEvent('pool-ready');
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const on = await gsupVerb(['autoscale', 'on'], env);
  t.is(on.code, 0, on.stderr);
  t.regex(on.stdout, /^gsup: autoscale on: between 1 and \d+ workers \(now 1\)\n$/);
  const set = await g.waitForEvent('autoscale-set', (e) => e.enabled);
  t.is(set.min, 1);
  const snap = JSON.parse((await gsupVerb(['status', '--json'], env)).stdout) as {
    autoscale: { enabled: boolean };
  };
  t.true(snap.autoscale.enabled);
  const off = await gsupVerb(['autoscale', 'off'], env);
  t.is(off.stdout, 'gsup: autoscale off: staying at 1 worker\n');
  await g.waitForEvent('autoscale-set', (e) => !e.enabled);
  const bad = await gsupVerb(['autoscale', 'maybe'], env);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'gsup: autoscale: expected on or off, got "maybe" (usage: gsup autoscale on)\n');
});

test('memory recycling: a worker that leaks is replaced gracefully, and no request of a running loop fails', async (t) => {
  const g = gsup(
    t,
    [
      'start',
      'leaks-memory.js',
      '-b',
      '127.0.0.1:0',
      '--no-tui',
      '-w',
      '2',
      '--max-worker-memory',
      '100M',
      '--min-worker-age',
      '1',
    ],
    { env: { LEAK_CAP_MB: '140' } },
  );
  await g.waitForEvent('pool-ready');
  const url = await g.url();
  const traffic = load(url, 2);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await traffic.stop();
  });
  const recycle = await g.waitForEvent('worker-recycle', (e) => e.memory !== undefined);
  const memory = recycle.memory;
  if (!memory) return t.fail();
  t.true(memory.rssBytes > memory.limitBytes);
  t.is(memory.limitBytes, 100 * 1024 * 1024);
  t.is(memory.samples, 3);
  t.regex(recycle.why, /^rss \d+ MB over 100 MB for 3 samples$/);
  // Its successor is ready before it drains, and it exits after draining.
  const successor = await g.waitForEvent(
    'worker-ready',
    (e) => e.slot === recycle.slot && e.pid !== recycle.pid,
  );
  const drain = await g.waitForEvent('worker-drain', (e) => e.pid === recycle.pid);
  t.is(drain.why, 'recycled');
  t.true(g.events.indexOf(successor) < g.events.indexOf(drain), 'the replacement was ready first');
  const exit = await g.waitForEvent('worker-exit', (e) => e.pid === recycle.pid);
  t.is(exit.cause, 'drained');
  stopped = true;
  const result = await traffic.stop();
  t.true(result.ok > 0);
  t.deepEqual(result.errors, [], `${result.failed} failed`);
  t.is(result.failed, 0);
});

test('the dashboard: the worker table says whether autoscale is on, with its bounds and signals; a toggles it', async (t) => {
  const { sup, term, screen } = await dashboardRig(
    t,
    poolOptions({
      workers: 1,
      adapt: {
        autoscale: false,
        minWorkers: 1,
        maxWorkers: 3,
        scaleUpAfter: 3,
        scaleDownAfter: 30,
        scaleCooldown: 5,
        maxWorkerMemory: null,
        minWorkerAge: 60,
      },
    }),
    [120, 30],
  );
  await screen('the table says autoscale is off', (s) => s.includes('workers · autoscale off'));
  term.press('a');
  await until('autoscale on', () => sup.snapshot().autoscale?.enabled === true);
  // Once sampled, the signals show: utilization, the accept queue (TCP: a number), lag.
  await screen('the table shows autoscale on with its bounds and signals', (s) =>
    /workers · autoscale on 1\.\.3: util [\d.-]+, \d+ queued, lag/.test(s),
  );
  t.true(sup.snapshot().events.some((e) => e.type === 'autoscale-set' && e.enabled));
  term.press('a');
  await until('autoscale off', () => sup.snapshot().autoscale?.enabled === false);
  await screen('off again', (s) => s.includes('workers · autoscale off'));
});

test('a unix socket has no queue length to read: the signal is unknown and the snapshot says why', async (t) => {
  const dir = tempDir(t, 'adapt-unix');
  const sup = new Supervisor(
    poolOptions({ workers: 1, binds: [{ kind: 'unix', path: `${dir}/app.sock` }] }),
  );
  t.teardown(() => sup.stop({ quick: true }));
  await sup.start();
  await until(
    'a sample with utilization',
    () => sup.snapshot().autoscale?.signals?.utilization != null,
  );
  const a = sup.snapshot().autoscale;
  t.is(a?.signals?.queued, null);
  t.regex(
    a?.queueNote ?? '',
    /unix sockets: not counted \(\/proc\/net\/unix has no queue length\)/,
  );
});
