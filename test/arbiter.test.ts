// The arbiter with its processes faked (as Gunicorn's test_arbiter mocks fork and waitpid): a
// fake spawner stands in for node workers, so the commands and the event stream are checked in
// milliseconds, with no process, socket or signal.

import test, { type ExecutionContext } from 'ava';
import type { PoolEvent } from '../src/events.js';
import type { Spawner, SpawnRequest, WorkerProcessEvents } from '../src/supervisor/spawn.js';
import {
  type PoolOptions,
  type ReloadedConfig,
  Supervisor,
  type SupervisorOptions,
} from '../src/supervisor/supervisor.js';
import { poolOptions } from './helpers.js';

interface FakeWorker {
  pid: number;
  req: SpawnRequest;
  on: WorkerProcessEvents;
  signals: NodeJS.Signals[];
}

/** A spawner whose workers boot at once and exit on any signal, like a well-behaved app. */
function fakeSpawner(): { spawn: Spawner; workers: FakeWorker[] } {
  const workers: FakeWorker[] = [];
  let nextPid = 5000;
  const spawn: Spawner = (req, on) => {
    const w: FakeWorker = { pid: nextPid++, req, on, signals: [] };
    workers.push(w);
    setImmediate(() => {
      on.spawned();
      on.message({ t: 'ready', listening: [] });
    });
    return {
      pid: w.pid,
      send() {},
      kill(signal) {
        w.signals.push(signal);
        setImmediate(() =>
          on.exited(signal === 'SIGKILL' ? null : 0, signal === 'SIGKILL' ? signal : null),
        );
      },
    };
  };
  return { spawn, workers };
}

/** The fixtures' pool options with no sockets: the fake workers need none. */
function options(over: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return poolOptions({ binds: [], ...over });
}

/** A started arbiter over fake workers, its events recorded, stopped at teardown. */
async function pool(t: ExecutionContext, over: Partial<SupervisorOptions> = {}) {
  const fake = fakeSpawner();
  const sup = new Supervisor(options(over), {
    spawn: fake.spawn,
    usage: async () => ({ cpu: 0, memory: 0 }),
  });
  const events: PoolEvent[] = [];
  sup.on('event', (e) => events.push(e));
  t.teardown(() => sup.stop({ quick: true }));
  await sup.start();
  await until(() => sup.snapshot().ready === sup.snapshot().target);
  return { sup, fake, events };
}

/** Waits for a condition on the next turns of the event loop (fake workers act on setImmediate). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition never held');
}

/** A reloadConfig that hands back `next` and counts how often its config was accepted. */
function reloading(next: PoolOptions) {
  const accepted = { n: 0 };
  const reloadConfig = async (): Promise<ReloadedConfig> => ({
    options: next,
    accept: () => {
      accepted.n++;
    },
    notes: [],
  });
  return { reloadConfig, accepted };
}

test('a reload keeps a count set at run time, and says so in its line and reply', async (t) => {
  const { reloadConfig, accepted } = reloading(options({ workers: 2 }));
  const { sup, fake, events } = await pool(t, { reloadConfig });
  t.like(sup.scale({ to: 3 }), { ok: true, from: 2, to: 3 });
  await until(() => sup.snapshot().ready === 3);
  const before = fake.workers.length;

  const result = await sup.reload();
  t.true(result.ok, result.message);
  t.regex(result.message, /reload done: 3 new workers ready \(keeping the 3 set at run time/);
  t.is(accepted.n, 1);
  t.is(sup.snapshot().target, 3);
  const start = events.find((e) => e.type === 'reload-start');
  t.like(start, { workers: 3, count: 'keeping the 3 set at run time; the config says 2' });
  // Every worker spawned for the reload loaded the new code (no extra old-code worker first).
  t.is(fake.workers.length - before, 3);
  t.true(sup.snapshot().workers.every((w) => w.gen === 2));
});

test('a reload follows the configured count when the config changed it', async (t) => {
  const { reloadConfig } = reloading(options({ workers: 4 }));
  const { sup, events } = await pool(t, { reloadConfig });
  t.like(sup.scale({ to: 3 }), { ok: true });
  const result = await sup.reload();
  t.true(result.ok);
  t.is(sup.snapshot().target, 4);
  t.like(
    events.find((e) => e.type === 'reload-start'),
    { workers: 4, count: 'workers changed in the config from 2 to 4' },
  );
});

test('a refused config keeps the running workers and starts no reload', async (t) => {
  const { sup, events } = await pool(t, {
    reloadConfig: async () => 'timeout: expected seconds, got "soon" (from the config file)',
  });
  const result = await sup.reload();
  t.false(result.ok);
  t.regex(result.message, /^reload not done: timeout: expected seconds/);
  t.like(
    events.find((e) => e.type === 'reload-end'),
    { outcome: 'refused', level: 'error' },
  );
  t.false(events.some((e) => e.type === 'reload-start'));
});

test('K kills on request: the exit says so, and the slot is refilled', async (t) => {
  const { sup, fake, events } = await pool(t);
  const victim = fake.workers[0];
  if (!victim) return t.fail('no worker');
  t.true(sup.kill(victim.pid));
  await until(() => events.some((e) => e.type === 'worker-exit' && e.pid === victim.pid));
  const exit = events.find((e) => e.type === 'worker-exit' && e.pid === victim.pid);
  t.like(exit, { cause: 'killed', reason: 'killed' });
  t.regex(exit?.message ?? '', /killed on request \(signal SIGKILL\); replacing it/);
  t.deepEqual(victim.signals, ['SIGKILL']);
  await until(() => sup.snapshot().ready === 2);
  t.true(sup.snapshot().workers.some((w) => w.slot === victim.req.slot));
});

test('scale refuses beyond the limits with the same answer from every door', async (t) => {
  const { sup, events } = await pool(t, { maxWorkers: 4 });
  t.deepEqual(sup.scale({ to: 5 }), {
    ok: false,
    error: '5 is above max-workers 4 (start gsup with a higher --max-workers)',
  });
  t.deepEqual(sup.scale({ by: 3 }), {
    ok: false,
    error: '5 is above max-workers 4 (start gsup with a higher --max-workers)',
  });
  t.is(events.filter((e) => e.type === 'scale-refused').length, 2);
  t.is(sup.snapshot().target, 2);
});

test('reloads asked for while one runs coalesce into one more run', async (t) => {
  const { sup, events } = await pool(t);
  const results = await Promise.all([sup.reload(), sup.reload(), sup.reload()]);
  t.true(results.every((r) => r.ok));
  t.is(events.filter((e) => e.type === 'reload-start').length, 2);
  t.is(events.filter((e) => e.type === 'reload-queued').length, 1);
});

test('a stop during a reload abandons it and answers the queued ones', async (t) => {
  const { sup } = await pool(t);
  const first = sup.reload();
  const queued = sup.reload();
  await new Promise((r) => setImmediate(r));
  const code = sup.stop();
  t.is((await first).ok, false);
  t.deepEqual(await queued, { ok: false, message: 'not reloading: gsup is stopping' });
  t.is(await code, 0);
  t.is(sup.snapshot().state, 'stopped');
});
