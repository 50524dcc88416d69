// The pool's rules, as the pure plan states them: no process, no clock, no socket. Each test sets
// up the facts the arbiter would gather and checks the actions the plan returns.

import test from 'ava';
import type { PoolOptions } from '../src/supervisor/options.js';
import { canMove } from '../src/supervisor/phase.js';
import {
  type Action,
  BOOT_FAILURES_BEFORE_GIVING_UP,
  type PlanInput,
  type PlanWorker,
  planPool,
} from '../src/supervisor/plan.js';
import { APPLIES, changes, workerCount } from '../src/supervisor/reconfigure.js';
import { poolOptions } from './helpers.js';

const NOW = 1_000_000;

let ids = 0;
/** A ready worker of generation 1 in `slot`, heard from just now, unless told otherwise. */
function worker(slot: number, over: Partial<PlanWorker> = {}): PlanWorker {
  return {
    id: ++ids,
    slot,
    gen: 1,
    state: 'ready',
    recycling: false,
    ending: null,
    spawnedAt: NOW - 60_000,
    readyAt: NOW - 59_000,
    lastHeartbeat: NOW - 100,
    killAt: null,
    drainDeadline: null,
    ...over,
  };
}

/** A worker of generation 1 in `slot` that was spawned a moment ago and is loading the app. */
function booting(slot: number, over: Partial<PlanWorker> = {}): PlanWorker {
  return worker(slot, {
    state: 'booting',
    spawnedAt: NOW - 100,
    readyAt: null,
    lastHeartbeat: null,
    ...over,
  });
}

function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    now: NOW,
    managing: true,
    target: 2,
    workers: [],
    retryAt: new Map(),
    reload: null,
    timeoutS: 30,
    bootTimeoutS: 30,
    judge: true,
    everReady: true,
    bootFailuresInARow: 0,
    lastBootError: null,
    ...over,
  };
}

const spawns = (actions: Action[]) => actions.flatMap((a) => (a.do === 'spawn' ? [a.slot] : []));
const drains = (actions: Action[]) =>
  actions.flatMap((a) => (a.do === 'drain' ? [[a.id, a.why] as const] : []));

test('an empty pool spawns its target into slots 1..N', (t) => {
  t.deepEqual(spawns(planPool(input({ target: 3 }))), [1, 2, 3]);
});

test('a full pool does nothing', (t) => {
  t.deepEqual(planPool(input({ workers: [worker(1), worker(2)] })), []);
});

test('a slot backing off after failed boots keeps its place and is not spawned until its time', (t) => {
  const retryAt = new Map([[1, NOW + 400]]);
  t.deepEqual(spawns(planPool(input({ target: 3, retryAt }))), [2, 3]);
  t.deepEqual(spawns(planPool(input({ target: 3, retryAt, now: NOW + 401 }))), [1, 2, 3]);
});

test('scale down retires workers not serving yet first, then the oldest', (t) => {
  const old = worker(1);
  const loading = booting(3);
  const newer = worker(2);
  const actions = planPool(input({ target: 1, workers: [old, newer, loading] }));
  t.deepEqual(drains(actions), [
    [loading.id, 'scaled down'],
    [old.id, 'scaled down'],
  ]);
  t.deepEqual(spawns(actions), []);
});

test('draining workers do not count toward the target: the pool spawns their successors', (t) => {
  const actions = planPool(
    input({ workers: [worker(1), worker(2, { state: 'draining', ending: 'drain' })] }),
  );
  t.deepEqual(spawns(actions), [2]);
});

test('a reload boots one new worker first (the canary) and drains nobody until it is ready', (t) => {
  const reload = { gen: 2, canaryPassed: false, failed: null };
  const pool = [worker(1), worker(2), worker(3)];
  const first = planPool(input({ target: 3, workers: pool, reload }));
  t.deepEqual(spawns(first), [1], 'the canary takes the first old worker’s slot');
  t.deepEqual(drains(first), []);

  const canary = booting(1, { gen: 2 });
  const waiting = planPool(input({ target: 3, workers: [...pool, canary], reload }));
  t.deepEqual(waiting, [], 'no second new worker while the canary boots');
});

test('once the canary is ready, the rest boot and an old worker drains per ready successor', (t) => {
  const reload = { gen: 2, canaryPassed: true, failed: null };
  const [a, b, c] = [worker(1), worker(2), worker(3)];
  const canary = worker(1, { gen: 2 });
  const actions = planPool(input({ target: 3, workers: [a, b, c, canary], reload }));
  t.deepEqual(spawns(actions), [2, 3], 'successors take the old workers’ slots');
  t.deepEqual(drains(actions), [[a.id, 'replaced by reload']], 'one ready new worker: one old out');
});

test('a reload is done when no old worker is left and enough new ones serve', (t) => {
  const reload = { gen: 2, canaryPassed: true, failed: null };
  const fresh = [worker(1, { gen: 2 }), worker(2, { gen: 2 })];
  const draining = worker(2, { state: 'draining', ending: 'drain' });
  t.false(
    planPool(input({ workers: [...fresh, draining], reload })).some((a) => a.do === 'reload-done'),
    'an old worker still draining holds the reload open',
  );
  t.deepEqual(planPool(input({ workers: fresh, reload })), [{ do: 'reload-done' }]);
});

test('a new worker that failed to boot rolls the reload back, and nothing else happens then', (t) => {
  const reload = { gen: 2, canaryPassed: false, failed: 'SyntaxError at app.js:3' };
  t.deepEqual(planPool(input({ workers: [worker(1), worker(2)], reload })), [
    { do: 'roll-back', error: 'SyntaxError at app.js:3' },
  ]);
});

test('a recycled worker serves until its successor, in its own slot, is ready', (t) => {
  // Slots 2 and 4 hold workers (slot 1 and 3 were scaled away): the successor takes slot 4.
  const keep = worker(2);
  const recycled = worker(4, { recycling: true });
  const first = planPool(input({ workers: [keep, recycled] }));
  t.deepEqual(spawns(first), [4]);
  t.deepEqual(drains(first), []);

  const successor = booting(4);
  t.deepEqual(planPool(input({ workers: [keep, recycled, successor] })), []);

  const ready = worker(4);
  t.deepEqual(drains(planPool(input({ workers: [keep, recycled, ready] }))), [
    [recycled.id, 'recycled'],
  ]);
});

test('gives up (exit 3) after repeated boot failures when no worker ever served and none is booting', (t) => {
  const facts = {
    everReady: false,
    bootFailuresInARow: BOOT_FAILURES_BEFORE_GIVING_UP,
    lastBootError: 'Cannot find module ./db',
    retryAt: new Map([
      [1, NOW + 800],
      [2, NOW + 800],
    ]),
  };
  t.deepEqual(planPool(input(facts)), [{ do: 'give-up', error: 'Cannot find module ./db' }]);

  const stillBooting = booting(1);
  t.false(
    planPool(input({ ...facts, workers: [stillBooting] })).some((a) => a.do === 'give-up'),
    'not while another worker may still boot',
  );
  t.false(
    planPool(input({ ...facts, everReady: true })).some((a) => a.do === 'give-up'),
    'never once the app has served: then it is a crash loop with backoff',
  );
  t.false(
    planPool(input({ ...facts, bootFailuresInARow: BOOT_FAILURES_BEFORE_GIVING_UP - 1 })).some(
      (a) => a.do === 'give-up',
    ),
  );
});

test('a ready worker silent past the timeout is murdered (SIGINT for its stack); 0 turns it off', (t) => {
  const silent = worker(1, { lastHeartbeat: NOW - 31_000 });
  t.deepEqual(planPool(input({ workers: [silent, worker(2)] })), [
    { do: 'murder', id: silent.id, why: 'timeout', silentMs: 31_000 },
  ]);
  t.deepEqual(planPool(input({ workers: [silent, worker(2)], timeoutS: 0 })), []);
});

test('a worker not ready within the boot timeout is murdered as a boot timeout', (t) => {
  const slow = booting(1, { spawnedAt: NOW - 31_000 });
  t.like(planPool(input({ workers: [slow, worker(2)] }))[0], { do: 'murder', why: 'boot-timeout' });
});

test('a worker already being killed is not judged again; its grace ends in SIGKILL', (t) => {
  const dying = worker(1, { ending: 'timeout', lastHeartbeat: NOW - 40_000, killAt: NOW + 500 });
  t.deepEqual(planPool(input({ workers: [dying, worker(2)] })), []);
  t.deepEqual(planPool(input({ workers: [dying, worker(2)], now: NOW + 500 })), [
    { do: 'kill', id: dying.id, why: 'grace' },
  ]);
});

test('a drain past the graceful timeout ends in SIGKILL', (t) => {
  const slow = worker(1, { state: 'draining', ending: 'drain', drainDeadline: NOW - 1 });
  t.like(planPool(input({ target: 1, workers: [slow, worker(2)] }))[0], {
    do: 'kill',
    why: 'drain-overdue',
  });
});

test('after the supervisor itself stalled, nobody is judged on stale heartbeats', (t) => {
  const silent = worker(1, { lastHeartbeat: NOW - 31_000 });
  t.deepEqual(planPool(input({ workers: [silent, worker(2)], judge: false })), []);
});

test('a stopping pool is not managed, but its workers are still judged', (t) => {
  const overdue = worker(1, { state: 'draining', ending: 'drain', drainDeadline: NOW - 1 });
  const actions = planPool(input({ managing: false, target: 3, workers: [overdue] }));
  t.deepEqual(actions, [{ do: 'kill', id: overdue.id, why: 'drain-overdue' }]);
});

test('the pool phase moves only along its table', (t) => {
  t.true(canMove('starting', 'running'));
  t.true(canMove('running', 'reloading'));
  t.true(canMove('reloading', 'running'));
  t.true(canMove('reloading', 'stopping'));
  t.true(canMove('stopping', 'stopping'), 'a graceful stop may turn quick');
  t.false(canMove('stopped', 'running'));
  t.false(canMove('stopping', 'reloading'));
  t.false(canMove('starting', 'reloading'));
});

/** The fixtures' pool options, bound to port 8000 with a 30 s timeout so the lines read plainly. */
function options(over: Partial<PoolOptions> = {}): PoolOptions {
  return poolOptions({
    binds: [{ kind: 'tcp', host: '127.0.0.1', port: 8000 }],
    timeout: 30,
    ...over,
  });
}

test('a reload keeps a count set at run time unless the configured count changed', (t) => {
  const two = options({ workers: 2 });
  t.deepEqual(workerCount(two, two, 2), { to: 2, why: null });
  t.deepEqual(workerCount(two, two, 5), {
    to: 5,
    why: 'keeping the 5 set at run time; the config says 2',
  });
  t.deepEqual(workerCount(two, options({ workers: 4 }), 5), {
    to: 4,
    why: 'workers changed in the config from 2 to 4',
  });
  t.deepEqual(workerCount(two, options({ workers: 2, maxWorkers: 3 }), 5), {
    to: 3,
    why: 'capped at max-workers 3',
  });
});

test('a reload lists what changed, and every option says how a reload applies it', (t) => {
  const prev = options();
  t.deepEqual(changes(prev, options()), []);
  t.deepEqual(
    changes(
      prev,
      options({
        timeout: 5,
        nodeArgs: ['--max-old-space-size=256'],
        binds: [{ kind: 'tcp', host: '127.0.0.1', port: 9000 }],
      }),
    ),
    ['bind 127.0.0.1:8000 → 127.0.0.1:9000', 'timeout 30 → 5', 'node-arg'],
  );
  for (const key of Object.keys(prev)) t.truthy(APPLIES[key as keyof PoolOptions], key);
});
