// What a new user meets first (issue 14, items 8-12): apps written the way tutorials write them,
// typos in verbs, files and flags. Each message names the fix. Real CLI runs, plus the pure rules.

import test from 'ava';
import { freePort } from '../harness/ports.js';
import { hasTmux, TmuxServer } from '../harness/tmux.js';
import { checkAppFile, parseAppSpec } from '../src/app-spec.js';
import { unknownVerb } from '../src/cli/main.js';
import { statusView } from '../src/cli/status-json.js';
import { startHelp } from '../src/config/parse.js';
import { SETTINGS } from '../src/config/schema.js';
import { EXIT_BOOT_ERROR } from '../src/exit-codes.js';
import { parseWorkerMessage } from '../src/ipc.js';
import { editDistance, suggest } from '../src/suggest.js';
import { describeListen } from '../src/worker/own-listen.js';
import { BIN, FIXTURES, get, gsup, gsupVerb, until } from './helpers.js';

// ---- pure rules ---------------------------------------------------------------------------

test('editDistance counts a swap of neighbours as one edit', (t) => {
  t.is(editDistance('stauts', 'status'), 1);
  t.is(editDistance('stauts', 'start'), 2);
  t.is(editDistance('strat', 'start'), 1);
  t.is(editDistance('', 'abc'), 3);
  t.is(editDistance('same', 'same'), 0);
  t.is(suggest('wokers', ['workers', 'bind']), 'workers');
  t.is(suggest('frobnicate', ['workers', 'bind']), null);
});

test('a typo of a read-only verb is never pointed at the verb that starts a server', (t) => {
  t.regex(unknownVerb('stauts'), /did you mean status\?/);
  t.regex(unknownVerb('stat'), /did you mean status\?/);
  t.regex(unknownVerb('sttaus'), /did you mean status\?/);
  // A typo of start itself still gets start.
  t.regex(unknownVerb('strat'), /did you mean start\?/);
  t.regex(
    unknownVerb('restart'),
    /unknown command "restart"; did you mean reload\? \(gsup reload: graceful/,
  );
  t.notRegex(unknownVerb('zzzzzz'), /did you mean/);
});

test('app specs: FILE() calls the default export; the error explains every form', (t) => {
  t.deepEqual(parseAppSpec('app.js()'), { file: 'app.js', exportName: null, factory: true });
  t.deepEqual(parseAppSpec('app.js:create()'), {
    file: 'app.js',
    exportName: 'create',
    factory: true,
  });
  t.deepEqual(parseAppSpec('app.mjs:handler'), {
    file: 'app.mjs',
    exportName: 'handler',
    factory: false,
  });
  t.deepEqual(parseAppSpec('app.js'), { file: 'app.js', exportName: null, factory: false });
  t.regex(String(parseAppSpec('')), /FILE\(\)/);
});

test('a missing app file gets the nearest file that exists', (t) => {
  const spec = (file: string) => ({ file, exportName: null, factory: false });
  t.regex(checkAppFile(spec('slo.js'), FIXTURES) ?? '', /did you mean slow\.js\?$/);
  t.regex(checkAppFile(spec('slow'), FIXTURES) ?? '', /did you mean slow\.js\?$/);
  t.regex(checkAppFile(spec('./cjs-app'), FIXTURES) ?? '', /did you mean cjs-app\.cjs\?$/);
  t.notRegex(checkAppFile(spec('zzzzzzzz.js'), FIXTURES) ?? '', /did you mean/);
  t.is(checkAppFile(spec('slow.js'), FIXTURES), null);
});

test('describeListen says where a listen() call listens', (t) => {
  t.is(describeListen([3000]), '*:3000');
  t.is(describeListen(['3000']), '*:3000');
  t.is(describeListen([3000, '127.0.0.1', () => undefined]), '127.0.0.1:3000');
  t.is(describeListen([{ port: 8080, host: 'localhost' }]), 'localhost:8080');
  t.is(describeListen([{ path: '/tmp/x.sock' }]), 'unix:/tmp/x.sock');
  t.is(describeListen(['/tmp/x.sock']), 'unix:/tmp/x.sock');
  t.is(describeListen([]), 'a random port');
  t.is(describeListen([0]), 'a random port');
});

// ---- the real CLI -------------------------------------------------------------------------

const start = (app: string, ...extra: string[]) => [
  'start',
  app,
  '-b',
  '127.0.0.1:0',
  '--no-tui',
  ...extra,
];

test('an app that listens itself and exports nothing is told to export the app and drop listen()', async (t) => {
  const port = await freePort();
  const g = gsup(
    t,
    start('listens-and-exports-nothing.cjs', '-w', '1', '--env', `OWN_PORT=${port}`),
  );
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(fail.error, /listens-and-exports-nothing\.cjs exports nothing/);
  t.regex(fail.error, /module\.exports = app \(CommonJS\) or export default app \(ESM\)/);
  t.regex(
    fail.error,
    new RegExp(
      `listen\\(\\) itself \\(127\\.0\\.0\\.1:${port}, at listens-and-exports-nothing\\.cjs:\\d+`,
    ),
  );
  t.regex(fail.error, /remove that call/);
});

test('an ES module that exports nothing is told how to export the app', async (t) => {
  const g = gsup(t, start('exports-nothing.mjs', '-w', '1'));
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(fail.error, /exports-nothing\.mjs exports nothing; export the app/);
});

test('an app that exports itself and also calls listen() is warned about once, with the port and the fix', async (t) => {
  const g = gsup(t, start('listens-and-exports.cjs', '-w', '2'));
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  // Both workers called listen(); the same address is said once for the pool.
  const warn = await g.waitForEvent('app-listens');
  t.is(g.countEvents('app-listens'), 1, g.lines.join('\n'));
  t.is(warn.level, 'warn');
  t.regex(warn.message, /opened its own server on a random port \(listens-and-exports\.cjs:\d+/);
  t.regex(warn.message, /Remove the listen\(\) call and export the app/);
  t.regex(warn.where ?? '', /^listens-and-exports\.cjs:\d+/);
  // The pool still serves on gsup's own socket.
  t.is((await get(await g.url())).body, 'pool\n');
});

test('an app that listens on a fixed port names that port; the worker that cannot bind it says so in one line', async (t) => {
  const port = await freePort();
  const g = gsup(t, start('listens-and-exports.cjs', '-w', '2', '--env', `OWN_PORT=${port}`));
  const warn = await g.waitForEvent('app-listens');
  t.is(warn.address, `127.0.0.1:${port}`);
  t.true(warn.message.includes(`127.0.0.1:${port}`));
  // One worker holds the port; the other's listen() fails: a boot error naming the call, not a crash.
  const failed = await g.waitForEvent('worker-boot-failed', (e) => !e.same);
  t.regex(
    failed.error,
    new RegExp(
      `the app's own listen\\(\\) on 127\\.0\\.0\\.1:${port} failed: .*EADDRINUSE.*; remove that call and export the app`,
    ),
  );
  t.regex(failed.error, /\(at listens-and-exports\.cjs:\d+/);
  t.false(
    g.lines.some((l) => /^\s+at /.test(l) || /Unhandled 'error' event/.test(l)),
    g.lines.join('\n'),
  );
  t.is(g.countEvents('app-listens'), 1);
});

test('an app without listen() gets no such warning', async (t) => {
  const g = gsup(t, start('slow.js', '-w', '1'));
  await g.waitForEvent('pool-ready');
  t.is(g.countEvents('app-listens'), 0);
});

test('FILE() starts the default export as a factory', async (t) => {
  const g = gsup(t, start('default-factory.mjs()', '-w', '1'));
  await g.waitForEvent('pool-ready');
  t.is((await get(await g.url())).body, 'made by the default factory\n');
});

test('JSON.parse throwing at import names the line of the app that called it', async (t) => {
  const g = gsup(t, start('parses-json-at-import.js', '-w', '1'));
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(
    fail.error,
    /SyntaxError: "undefined" is not valid JSON \(at parses-json-at-import\.js:2:\d+\)/,
  );
});

// ---- gsup status --json and gsup start --help (issue 14, item 15) ---------------------------

test('statusView names the status classes, rounds times to the millisecond, and names the instance', (t) => {
  const worker = {
    id: 1,
    slot: 1,
    pid: 100,
    gen: 1,
    state: 'ready' as const,
    label: 'ready',
    replacing: null,
    uptimeMs: 1234.5678,
    requests: 1252,
    rps: 3.3,
    inFlight: 0,
    busyMs: 87.654,
    utilization: 0.012,
    conns: 0,
    shed: 0,
    status: [0, 1189, 0, 1, 62] as [number, number, number, number, number],
    p50Ms: 0.41234,
    p99Ms: 12.3456,
    lagMs: 1.005,
    cpu: 3.16,
    rss: 50_000_000,
    heartbeatAgeMs: 250.4,
    restarts: 0,
    lastExit: null,
    stuckStack: null,
  };
  const snap = {
    at: 1_700_000_000_000,
    pid: 99,
    app: 'app.js',
    listening: ['http://127.0.0.1:8000'],
    versions: { gsup: '0.1.0', node: 'v20' },
    state: 'running' as const,
    uptimeMs: 5000.4,
    target: 1,
    maxWorkers: 64,
    live: 1,
    ready: 1,
    timeoutMs: 30000,
    utilization: 0.012,
    totals: {
      requests: 1252,
      rps: 3.33333,
      inFlight: 0,
      busyMs: 87.654,
      status: [0, 1189, 0, 1, 62] as [number, number, number, number, number],
      restarts: 0,
      reloads: 0,
    },
    reload: null,
    workers: [worker],
    waiting: [{ slot: 2, failures: 1, retryInMs: 99.9, lastExit: 'code 3' }],
    slots: [],
    events: [],
  };
  const view = statusView(snap, 'web');
  t.is(view.name, 'web');
  t.deepEqual(view.totals.status, { '1xx': 0, '2xx': 1189, '3xx': 0, '4xx': 1, '5xx': 62 });
  t.deepEqual(view.workers[0]?.status, { '1xx': 0, '2xx': 1189, '3xx': 0, '4xx': 1, '5xx': 62 });
  t.is(view.uptimeMs, 5000);
  t.is(view.totals.busyMs, 88);
  t.is(view.totals.rps, 3.3);
  t.is(view.workers[0]?.uptimeMs, 1235);
  t.is(view.workers[0]?.heartbeatAgeMs, 250);
  t.is(view.workers[0]?.p50Ms, 0.41);
  t.is(view.workers[0]?.cpu, 3.2);
  t.is(view.waiting[0]?.retryInMs, 100);
  // A view: the snapshot the other views read is not changed.
  t.deepEqual(snap.totals.status, [0, 1189, 0, 1, 62]);
  t.is(snap.uptimeMs, 5000.4);
});

test('gsup start --help wraps to the width it is given', (t) => {
  for (const width of [60, 80, 120]) {
    const help = startHelp(width);
    const long = help.split('\n').filter((l) => l.length > width);
    t.deepEqual(long, [], `lines over ${width} columns`);
    for (const s of SETTINGS) t.true(help.includes(`--${s.flag}`), s.flag);
  }
  // Every word of every doc is still there, wherever it was broken.
  const words = (text: string) => text.split(/\s+/).filter(Boolean);
  t.deepEqual(words(startHelp(60)), words(startHelp(1000)));
});

test('gsup start --help in an 80-column terminal fits it', async (t) => {
  if (!hasTmux()) return t.pass('tmux is not installed');
  const tmux = new TmuxServer('help');
  t.teardown(() => tmux.kill());
  // Through a pipe, as `gsup start --help | less` runs: the width comes from the terminal still.
  tmux.start(80, 50, `${process.execPath} ${BIN} start --help | tail -n 45; sleep 600`);
  await until('the help is on screen', () => tmux.screen().includes('show this help'));
  const screen = tmux.screen();
  // capture-pane cuts lines at the pane's width: a line that wrapped on its own would show as a
  // line starting mid-word; gsup's own breaks indent the doc column.
  const lines = screen.split('\n').filter((l) => l.trim());
  for (const l of lines) t.true(l.length <= 80);
  t.true(
    lines.every((l) => /^(\s{2}(\s{4})?-|\s{37}\S|\S)/.test(l)),
    `a line wrapped by the terminal, not by gsup:\n${screen}`,
  );
});

test('gsup status --json is the view: status classes by name and the instance name', async (t) => {
  const g = gsup(t, start('slow.js', '-w', '1', '--name', 'web'));
  await g.waitForEvent('pool-ready');
  await get(await g.url());
  type View = {
    name: string;
    uptimeMs: number;
    totals: { status: Record<string, number> };
    workers: Array<{ status: Record<string, number>; uptimeMs: number }>;
  };
  let view: View | null = null;
  // The count arrives with the worker's next heartbeat.
  await until('the 2xx shows in gsup status --json', async () => {
    const r = await gsupVerb(['status', '--json', '--name', 'web'], {
      XDG_RUNTIME_DIR: g.runtimeDir,
    });
    if (r.code !== 0) throw new Error(r.stderr);
    view = JSON.parse(r.stdout) as View;
    return view.totals.status['2xx'] === 1;
  });
  if (!view) return t.fail('no status');
  const v: View = view;
  t.is(v.name, 'web');
  t.is(v.totals.status['2xx'], 1);
  t.deepEqual(Object.keys(v.totals.status), ['1xx', '2xx', '3xx', '4xx', '5xx']);
  t.true(Number.isInteger(v.uptimeMs));
  t.true(Number.isInteger(v.workers[0]?.uptimeMs));
});

test('the app-listens IPC message is checked like every other', (t) => {
  t.deepEqual(parseWorkerMessage({ t: 'app-listens', address: '*:3000', where: 'app.js:4' }), {
    t: 'app-listens',
    address: '*:3000',
    where: 'app.js:4',
  });
  t.deepEqual(parseWorkerMessage({ t: 'app-listens', address: '*:3000' }), {
    t: 'app-listens',
    address: '*:3000',
    where: null,
  });
  t.is(typeof parseWorkerMessage({ t: 'app-listens', address: 3000 }), 'string');
});
