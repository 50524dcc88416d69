// The real dashboard, drawing a real pool into a headless terminal; assertions read the screen.
import test, { type ExecutionContext } from 'ava';
import type { PoolSource } from '../dist/dashboard/dashboard.js';
import type { Supervisor, SupervisorOptions } from '../dist/index.js';
import { type DashboardRig, dashboardRig } from './dashboard-rig.js';
import { get, poolOptions, until } from './helpers.js';
import { KEYS } from './term.js';

const pool = poolOptions;

type Rig = DashboardRig;

function rig(
  t: ExecutionContext,
  opts: Partial<SupervisorOptions> = {},
  size: [number, number] = [120, 40],
  source?: (sup: Supervisor) => PoolSource,
): Promise<Rig> {
  return dashboardRig(t, pool(opts), size, source);
}

/** The worker table's rows as [pid, state] pairs, read off the screen. */
function rows(text: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const line of text.split('\n')) {
    const m =
      /^│\s+(\d+)\s+(\d+)\s+(ready|booting|spawning|draining|replacing|flapping|silent|timed out)\b/.exec(
        line,
      );
    if (m) out.push([Number(m[2]), m[3] ?? '']);
  }
  return out;
}

test.serial('the rows show the real pids and states', async (t) => {
  const r = await rig(t);
  await until('2 ready', () => r.sup.snapshot().ready === 2);
  const text = await r.screen(
    '2 ready rows',
    (s) => rows(s).filter(([, st]) => st === 'ready').length === 2,
  );
  const pids = r.sup
    .snapshot()
    .workers.map((w) => w.pid)
    .sort();
  t.deepEqual(
    rows(text)
      .map(([pid]) => pid)
      .sort(),
    pids,
  );
  t.regex(text, /workers 2\/2 ready/);
  t.regex(text, /SLOT\s+PID\s+STATE/);
  t.deepEqual(r.errors, []);
});

test.serial(
  '+ adds a worker on screen, - removes one; holding + stops at max-workers',
  async (t) => {
    const r = await rig(t, { maxWorkers: 4 });
    await r.screen('2 ready', (s) => /workers 2\/2 ready/.test(s));
    r.term.press('+');
    await r.screen('3 ready', (s) => /workers 3\/3 ready/.test(s) && rows(s).length === 3);
    t.regex(r.term.text(), /key \+: one worker more/);
    r.term.press('-');
    await r.screen('back to 2', (s) => /workers 2\/2 ready/.test(s) && rows(s).length === 2);
    // Key repeat: twenty presses in one burst.
    r.term.press('+'.repeat(20));
    await r.screen('4 ready', (s) => /workers 4\/4 ready/.test(s));
    t.is(r.sup.snapshot().target, 4);
    t.true(r.sup.snapshot().live <= 4);
    await r.screen('the cap is explained', (s) => /is capped at max-workers 4/.test(s));
  },
);

test.serial('r replaces every pid on screen', async (t) => {
  const r = await rig(t);
  const before = rows(
    await r.screen('2 ready', (s) => rows(s).filter(([, st]) => st === 'ready').length === 2),
  ).map(([pid]) => pid);
  r.term.press('r');
  const after = await r.screen(
    'two new ready pids and none of the old',
    (s) =>
      rows(s).filter(([pid, st]) => st === 'ready' && !before.includes(pid)).length === 2 &&
      rows(s).length === 2,
  );
  t.regex(after, /reload done/);
  t.regex(after, /reloads 1/);
});

test.serial(
  'the 80×24 layout still shows the table; a resize brings the charts back',
  async (t) => {
    const r = await rig(t, {}, [80, 24]);
    const small = await r.screen(
      '2 ready rows at 80x24',
      (s) => rows(s).filter(([, st]) => st === 'ready').length === 2,
    );
    t.regex(small, /SLOT\s+PID\s+STATE/);
    t.notRegex(small, /total req\/s/, 'charts are dropped first');
    t.regex(small, /events and worker output/);
    for (const line of r.term.lines()) t.true(line.length <= 80);
    r.term.resize(130, 45);
    const big = await r.screen('charts after resize', (s) => /total req\/s/.test(s));
    t.regex(big, /share of requests/);
    t.is(rows(big).length, 2);
    t.true(r.term.lines().some((l) => l.length > 80));
    r.term.resize(80, 24);
    await r.screen('charts gone again', (s) => !/total req\/s/.test(s) && rows(s).length === 2);
  },
);

test.serial('worker output lands in the log pane, sanitised, never over the table', async (t) => {
  const r = await rig(t, { app: 'evil-output.js', workers: 1 });
  await r.screen('1 ready', (s) => /workers 1\/1 ready/.test(s));
  const url = r.sup.urls[0] ?? '';
  await get(`${url}/x`);
  const text = await r.screen('the output line', (s) =>
    /\{red-fg\}owned\{\/red-fg\} by worker/.test(s),
  );
  const lines = text.split('\n');
  const logTop = lines.findIndex((l) => l.includes('events and worker output'));
  const at = lines.findIndex((l) => l.includes('owned'));
  t.true(logTop > 0 && at > logTop, 'the line is inside the log pane');
  // The clear-screen sequence did not wipe the header or the table.
  t.regex(lines[0] ?? '', /gsup/);
  t.is(rows(text).length, 1);
});

test.serial('↑/↓ select a worker and K kills the selected one', async (t) => {
  const r = await rig(t);
  await r.screen('2 ready', (s) => rows(s).filter(([, st]) => st === 'ready').length === 2);
  const [first, second] = r.sup.snapshot().workers.map((w) => w.pid);
  r.term.press(KEYS.down);
  r.term.press('K');
  await r.screen('the second worker was killed', (s) =>
    s.includes(`key K: SIGKILL worker 2 (pid ${second})`),
  );
  await r.screen(
    'it is replaced',
    (s) => !rows(s).some(([pid]) => pid === second) && rows(s).length === 2,
  );
  t.true(rows(r.term.text()).some(([pid]) => pid === first));
});

test.serial('q stops gracefully; a second q is a quick stop', async (t) => {
  const r = await rig(t, { app: 'slow.js', workers: 1, gracefulTimeout: 60 });
  await r.screen('1 ready', (s) => /workers 1\/1 ready/.test(s));
  const url = r.sup.urls[0] ?? '';
  // A long request keeps the graceful stop waiting, so the second q has something to cut short.
  const slow = get(`${url}/slow?ms=30000`).catch((e: Error) => e);
  await until('the request is in flight', () => r.sup.snapshot().totals.inFlight === 1);
  r.term.press('q');
  await r.screen('stopping', (s) => /STOPPING/.test(s));
  r.term.press('q');
  t.is(await r.sup.done, 0);
  t.true((await slow) instanceof Error, 'the slow request was cut by the quick stop');
});

test.serial('a failing dashboard restores itself and leaves the pool serving', async (t) => {
  let broken = false;
  const r = await rig(t, {}, [120, 40], (sup) => ({
    snapshot: () => {
      if (broken) throw new Error('render exploded');
      return sup.snapshot();
    },
    on: sup.on.bind(sup) as PoolSource['on'],
    off: sup.off.bind(sup) as PoolSource['off'],
  }));
  await r.screen('2 ready', (s) => /workers 2\/2 ready/.test(s));
  broken = true;
  await until('the error is reported', () => r.errors.length === 1);
  t.regex(String(r.errors[0]), /render exploded/);
  const url = r.sup.urls[0] ?? '';
  t.is((await get(url)).status, 200);
  t.is(r.sup.snapshot().ready, 2);
});

test.serial(
  'a hung worker shows as silent, in the table and the model, long before its timeout',
  async (t) => {
    // A timeout far beyond the wait's deadline: only the heartbeat's absence can make it silent.
    const r = await rig(t, { app: 'hang.js', workers: 2, timeout: 120 });
    await r.screen('2 ready', (s) => rows(s).filter(([, st]) => st === 'ready').length === 2);
    const url = r.sup.urls[0] ?? '';
    get(`${url}/spin`).catch(() => undefined);
    const text = await r.screen('one silent row', (s) => rows(s).some(([, st]) => st === 'silent'));
    const [pid] = rows(text).find(([, st]) => st === 'silent') ?? [0];
    const w = r.sup.snapshot().workers.find((x) => x.pid === pid);
    t.is(w?.label, 'silent', 'the model says it, so gsup status and every view agree');
    t.is(w?.state, 'ready');
    t.regex(text, /workers 2\/2 ready \(1 silent\)/);
    t.is(rows(text).filter(([, st]) => st === 'ready').length, 1, 'the other one is still ready');
  },
);

test.serial(
  'a timeout shows its stack once in the log pane, without the SIGINT noise',
  async (t) => {
    const r = await rig(t, { app: 'hang.js', workers: 1, timeout: 1 });
    await r.screen('1 ready', (s) => /workers 1\/1 ready/.test(s));
    const first = r.sup.snapshot().workers[0]?.pid;
    const url = r.sup.urls[0] ?? '';
    get(`${url}/spin`).catch(() => undefined);
    const text = await r.screen(
      'the replacement ready after the kill',
      (s) =>
        /stuck in stuckInABusyLoop/.test(s) &&
        rows(s).some(([p, st]) => p !== first && st === 'ready'),
    );
    t.notRegex(text, /KEYBOARD_INTERRUPT/);
    t.is(text.match(/at stuckInABusyLoop \(/g)?.length, 1, text);
    t.is(
      text.match(/stuckInABusyLoop/g)?.length,
      2,
      'named in the line, then its frame: nothing more',
    );
    t.notRegex(text, / err\] +at /, 'no frame echoed as worker output');
  },
);
