// The dashboard as a pure view: synthetic snapshots (64 workers, a flapping slot, stale
// heartbeats) rendered into a headless terminal, and the text helpers behind it.
import { EventEmitter } from 'node:events';
import test from 'ava';
import { keyBindings, VIEW_KEYS } from '../dist/commands.js';
import { Dashboard, type PoolSource } from '../dist/dashboard/dashboard.js';
import {
  chartScale,
  columnsFor,
  eventLines,
  fitLine,
  footerLine,
  headerLines,
  heartbeatColor,
  helpLines,
  plain,
  STACK_FRAMES_SHOWN,
  sanitize,
  shares,
  tableLabel,
  tableRow,
  visibleLength,
} from '../dist/dashboard/format.js';
import type { PoolEvent, PoolSnapshot, WorkerSnapshot } from '../dist/index.js';
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
    slots: [],
    waiting: [],
    events: [],
    ...over,
  };
}

function render(snap: PoolSnapshot, cols: number, rows: number, name?: string) {
  const term = new HeadlessTerminal(cols, rows);
  const emitter = new EventEmitter();
  const source = Object.assign(emitter, {
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
    ...(name ? { name } : {}),
  });
  dash.start();
  return { term, dash, emit: (e: PoolEvent) => emitter.emit('event', e) };
}

/** The rows of the box whose top border carries `title`, borders included. */
function box(lines: string[], title: string): string[] {
  const top = lines.findIndex((l) => l.includes(`─ ${title}`));
  if (top < 0) return [];
  const col = lines[top]?.indexOf('┌') ?? 0;
  const bottom = lines.findIndex((l, i) => i > top && l[col] === '└');
  return lines.slice(top, bottom + 1);
}

/** The share chart's entries read off the screen: [label, percent]. */
function shareEntries(text: string): Array<[string, number]> {
  return [...text.matchAll(/(w\d+|\d+ others) +[█▉▊▋▌▍▎▏]* +(\d+)%/g)].map((m) => [
    m[1] ?? '',
    Number(m[2]),
  ]);
}

/** A snapshot as the demo shows it after an hour: a real-looking port, app path and 5xx count. */
function demoSnapshot(workers: number): PoolSnapshot {
  return snapshot(
    Array.from({ length: workers }, (_, i) => worker(i + 1, { requests: 1000 + 37 * i })),
    {
      app: 'examples/demo.js',
      listening: ['http://127.0.0.1:42793'],
      totals: {
        requests: 36_512,
        rps: 9.8,
        inFlight: 1,
        busyMs: 0,
        status: [0, 34_690, 0, 1_808, 14],
        restarts: 1,
        reloads: 0,
      },
    },
  );
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

test.serial('80×24: the header, the footer and the help stay whole', async (t) => {
  const { term, dash } = render(demoSnapshot(4), 80, 24, 'demo');
  t.teardown(() => dash.destroy());
  await until('drawn', () => term.text().includes('SLOT'));
  const lines = term.lines();
  const header = lines.slice(
    0,
    lines.findIndex((l) => l.startsWith('┌')),
  );
  const headerText = header.join('\n');
  // The README sends people to the header for the port; `gsup status --name` takes the name.
  t.regex(headerText, /http:\/\/127\.0\.0\.1:42793(\s|$)/m);
  t.regex(headerText, /name demo/);
  t.regex(headerText, /5xx 14\b/);
  t.regex(headerText, /workers 4\/4 ready/);
  t.regex(headerText, /req\/s \((last )?2s\)/, 'the rate says what it measures');
  const footer = lines[lines.length - 1] ?? '';
  for (const entry of ['+/- scale', 'r reload', '? help', 'q stop'])
    t.true(footer.replace(/ +/g, ' ').includes(entry), `${entry} in the footer: ${footer}`);

  term.press('?');
  await until('the help is open', () => term.text().includes('Press any key to close.'));
  const help = box(term.lines(), 'help');
  t.true(help.length > 4, term.text());
  t.true(help[0]?.startsWith('┌') && help[0]?.endsWith('┐'), `top border: ${help[0]}`);
  t.true(help.at(-1)?.startsWith('└') && help.at(-1)?.endsWith('┘'), `bottom: ${help.at(-1)}`);
  for (const row of help.slice(1, -1))
    t.true(row.startsWith('│') && row.endsWith('│') && row.length === 80, `side borders: ${row}`);
  // Wrapped at words: every help text reads whole once the box's lines are joined.
  const inside = help
    .slice(1, -1)
    .map((r) => r.slice(1, -1).trim())
    .join(' ')
    .replace(/\s+/g, ' ');
  const texts = [
    ...keyBindings()
      .map((b) => b.help)
      .filter((h): h is string => h !== undefined),
    ...VIEW_KEYS.map((v) => v.help),
    'Press any key to close.',
  ];
  for (const text of texts) t.true(inside.includes(text), `"${text}" reads whole in the help`);
  term.press('x');
  await until('the help is closed', () => !term.text().includes('Press any key'));
});

test.serial('a wide terminal keeps the header to three lines, with every item', async (t) => {
  const { term, dash } = render(demoSnapshot(4), 200, 60, 'demo');
  t.teardown(() => dash.destroy());
  await until('drawn', () => term.text().includes('SLOT'));
  const lines = term.lines();
  t.true(lines[3]?.startsWith('┌─ workers'), lines.slice(0, 4).join('\n'));
  t.regex(
    lines[0] ?? '',
    /gsup 0\.1\.0 \(pid 4242\) +name demo +http:\/\/127\.0\.0\.1:42793 +app examples\/demo\.js +up 1h00m +node v/,
  );
});

test.serial(
  '12 workers: the share chart shows every worker adding to 100 %, and the table says what is out of sight',
  async (t) => {
    const { term, dash } = render(demoSnapshot(12), 120, 40);
    t.teardown(() => dash.destroy());
    await until('the share chart is drawn', () => shareEntries(term.text()).length > 0);
    const entries = shareEntries(term.text());
    t.deepEqual(
      entries.map(([label]) => label).sort(),
      Array.from({ length: 12 }, (_, i) => `w${i + 1}`).sort(),
      term.text(),
    );
    t.is(
      entries.reduce((n, [, p]) => n + p, 0),
      100,
    );
    const label = /workers: (\d+) of 12 shown, ↓ for more/.exec(term.text());
    t.truthy(label, term.text());
    const shown = Number(label?.[1]);
    t.true(shown < 12);
    for (let i = 0; i < 11; i++) term.press(KEYS.down);
    await until('scrolled to the last row', () =>
      new RegExp(`workers: ${13 - shown}–12 of 12 shown, ↑ for more`).test(term.text()),
    );
    t.true(term.text().includes('40012'));
  },
);

test.serial('12 workers at 200×60: every row and every share, no "shown" note', async (t) => {
  const { term, dash } = render(demoSnapshot(12), 200, 60);
  t.teardown(() => dash.destroy());
  await until('the share chart is drawn', () => shareEntries(term.text()).length === 12);
  t.regex(term.text(), /┌─ workers ─/);
  t.notRegex(term.text(), /shown/);
  t.true(term.text().includes('40012'));
});

test.serial('64 workers at 200×60: the top shares and "N others", adding to 100 %', async (t) => {
  const { term, dash } = render(demoSnapshot(64), 200, 60);
  t.teardown(() => dash.destroy());
  await until('the share chart is drawn', () => /\d+ others/.test(term.text()));
  const entries = shareEntries(term.text());
  const others = entries.find(([label]) => label.endsWith('others'));
  const named = entries.filter(([label]) => label.startsWith('w'));
  t.truthy(others, term.text());
  t.is(named.length + Number(others?.[0].split(' ')[0]), 64);
  t.is(
    entries.reduce((n, [, p]) => n + p, 0),
    100,
  );
  // The largest shares are the ones named: w64 served the most.
  t.true(named.some(([label]) => label === 'w64'));
});

test.serial('after a resize the log shows its newest lines and fills its pane', async (t) => {
  const { term, dash, emit } = render(demoSnapshot(2), 80, 24);
  t.teardown(() => dash.destroy());
  await until('drawn', () => term.text().includes('SLOT'));
  for (let i = 1; i <= 150; i++)
    emit({
      type: 'warning',
      text: `line ${i}`,
      at: Date.now(),
      level: 'info',
      message: `line ${i}`,
    });
  /** The pane reaches down to the footer at this size, and every row of it shows a line, the newest last. */
  const filled = (rows: number) => {
    const lines = term.lines();
    const pane = box(lines, 'events and worker output');
    const inside = pane.slice(1, -1);
    return (
      lines.length === rows &&
      lines[rows - 2] === pane.at(-1) &&
      inside.length > 0 &&
      inside.every((row) => /line \d+/.test(row)) &&
      /line 150\b/.test(inside.at(-1) ?? '')
    );
  };
  const wait = (what: string, rows: number) =>
    until(what, () => filled(rows)).catch((err: Error) => {
      throw new Error(`${err.message}\n${term.text()}`);
    });
  await wait('the newest line at the bottom of a full pane', 24);
  term.resize(200, 60);
  await wait('after growing: the newest line at the bottom, no blank rows', 60);
  t.true(box(term.lines(), 'events and worker output').length > 20, 'the pane grew');
  term.resize(80, 24);
  await wait('after shrinking: the same', 24);
});

// ---- the pure parts ---------------------------------------------------------------------------

test('header items step down in order, then wrap whole; nothing is cut', (t) => {
  const items = [
    { forms: ['AAAA'] },
    { forms: ['bbbbbbbb', 'bb'], givesWay: 1 },
    { forms: ['cccccc', ''], givesWay: 0 },
  ];
  t.deepEqual(fitLine(items, 30), ['AAAA  bbbbbbbb  cccccc']);
  t.deepEqual(fitLine(items, 16), ['AAAA  bbbbbbbb'], 'the lowest givesWay yields first');
  t.deepEqual(fitLine(items, 8), ['AAAA  bb']);
  t.deepEqual(fitLine(items, 5), ['AAAA', 'bb'], 'wraps at items');
  const lines = headerLines(demoSnapshot(64), 60, 'production-eu');
  for (const l of lines) t.true(visibleLength(l) <= 60, plain(l));
  const all = lines.map(plain).join('\n');
  for (const must of ['http://127.0.0.1:42793', 'name production-eu', '5xx 14', 'timeout 30.0s'])
    t.true(all.includes(must), `${must} in\n${all}`);
});

test('the header says what the workers run: the Node version, or -k wsgi with its interpreter, or -k exec', (t) => {
  const header = (workerClass: PoolSnapshot['workerClass']) =>
    headerLines({ ...demoSnapshot(2), workerClass }, 200)
      .map(plain)
      .join('\n');
  t.regex(header({ kind: 'node' }), /node v\d+/);
  t.regex(header(undefined), /node v\d+/, 'a snapshot from an older gsup');
  const wsgi = header({ kind: 'wsgi', python: '/srv/venv/bin/python' });
  t.regex(wsgi, /-k wsgi \(\/srv\/venv\/bin\/python\)/);
  t.notRegex(wsgi, /node v\d+/, "the supervisor's Node version says nothing of Python workers");
  t.regex(header({ kind: 'exec' }), /-k exec/);
  const narrow = headerLines(
    { ...demoSnapshot(2), workerClass: { kind: 'wsgi', python: '/srv/venv/bin/python' } },
    80,
  )
    .map(plain)
    .join('\n');
  t.regex(narrow, /-k wsgi/, 'shortened, never dropped');
});

test('the footer and the help fit 80 columns, words whole', (t) => {
  const entries: Array<[string, string]> = [
    ['+/-', 'scale'],
    ['r', 'reload'],
    ['k', 'recycle'],
    ['K', 'kill'],
    ['↑↓', 'select'],
    ['l', 'log'],
    ['?', 'help'],
    ['q', 'stop'],
  ];
  t.true(visibleLength(footerLine(entries, 79)) <= 79);
  t.true(plain(footerLine(entries, 79)).endsWith('q stop'));
  const help = helpLines(
    [['r', 'graceful rolling reload (new code; old workers drain once new ones are ready)']],
    40,
  );
  for (const l of help) t.true(visibleLength(l) <= 40, l);
  const text = 'graceful rolling reload (new code; old workers drain once new ones are ready)';
  const body = help.slice(2, -2);
  t.true(body.length > 1, 'it wrapped');
  t.is(
    body
      .map((l) => l.trim())
      .join(' ')
      .replace(/^r\s+/, ''),
    text,
    'cut only at spaces',
  );
  t.is(help.at(-1), 'Press any key to close.');
});

test('shares add up to 100; past the room the top ones and "N others"', (t) => {
  const ws = [worker(1, { requests: 1 }), worker(2, { requests: 1 }), worker(3, { requests: 1 })];
  t.deepEqual(
    shares(ws, 10).map((s) => s.percent),
    [34, 33, 33],
  );
  t.deepEqual(shares([worker(1, { requests: 0 })], 10), [{ label: 'w1', percent: 0 }]);
  const many = Array.from({ length: 64 }, (_, i) => worker(i + 1, { requests: i + 1 }));
  const top = shares(many, 5);
  t.is(top.length, 5);
  t.deepEqual(
    top.slice(0, 4).map((s) => s.label),
    ['w61', 'w62', 'w63', 'w64'],
  );
  t.is(top[4]?.label, '60 others');
  t.is(
    top.reduce((n, s) => n + s.percent, 0),
    100,
  );
});

test('the req/s axis: round steps, the top label at or above the peak', (t) => {
  for (const peak of [0, 0.4, 9.6, 12, 21_500, 12_800, 99_999]) {
    const { maxY, numYLabels, labelWidth } = chartScale(peak);
    const step = maxY / numYLabels;
    t.true(Number.isInteger(step), `step ${step} for ${peak}`);
    t.regex(String(step), /^[125]0*$/, `a round step for ${peak}`);
    const top = step * (numYLabels - 0.5);
    t.true(top >= peak && top < peak + step + 1, `top label ${top} for ${peak}`);
    t.is(labelWidth, String(top).length);
  }
});

test('the table title says which rows are out of sight', (t) => {
  t.is(tableLabel(4, 0, 10), ' workers ');
  t.is(tableLabel(12, 0, 11), ' workers: 11 of 12 shown, ↓ for more ');
  t.is(tableLabel(12, 1, 11), ' workers: 2–12 of 12 shown, ↑ for more ');
  t.is(tableLabel(64, 10, 20), ' workers: 11–30 of 64 shown, ↑↓ for more ');
});

test('a stuck stack in the log pane: the top frames, paths shortened, the rest counted', (t) => {
  const frames = Array.from({ length: 10 }, (_, i) => `f${i} (file:///srv/app/lib/x.js:${i}:1)`);
  const lines = eventLines(
    {
      type: 'warning',
      text: 'x',
      at: Date.now(),
      level: 'error',
      message: 'worker 1 (pid 2) killed after timeout (signal SIGINT); stuck in f0',
      stack: frames,
    },
    '/srv/app',
  ).map(plain);
  t.is(lines.length, 1 + STACK_FRAMES_SHOWN + 1);
  t.regex(lines[1] ?? '', /^ +at f0 \(lib\/x\.js:0:1\)$/);
  t.regex(lines.at(-1) ?? '', /… 6 more frames/);
});
