// Configuration from every source, lowest first: defaults < config file < GSUP_CMD_ARGS < command
// line (WEB_CONCURRENCY and PORT set defaults), hooks, gsup check, and reload with a broken file.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { resolveStart } from '../dist/config/load.js';
import { ConfigError } from '../dist/config/parse.js';
import { SETTINGS } from '../dist/config/schema.js';
import { FIXTURES, get, gsup, gsupVerb, tempDir, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

/** A fresh directory with the given files (a config file and, by default, the slow.js app). */
function project(t: ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t, 'cfg');
  copyFileSync(`${FIXTURES}/slow.js`, `${dir}/slow.js`);
  copyFileSync(`${FIXTURES}/env-echo.js`, `${dir}/env-echo.js`);
  for (const [name, text] of Object.entries(files)) writeFileSync(`${dir}/${name}`, text);
  return dir;
}

// ---- precedence: one test per pair of sources --------------------------------------------------

const FILE = { 'gsup.config.json': JSON.stringify({ workers: 3, timeout: 11 }) };

test('the config file wins over the defaults (and over WEB_CONCURRENCY)', async (t) => {
  const r = await resolveStart(['app.js'], { WEB_CONCURRENCY: '7' }, project(t, FILE));
  t.is(r.config.workers, 3);
  t.is(r.sources.workers, 'file');
  t.is(r.config.backlog, 2048);
  t.is(r.sources.backlog, 'default');
});

test('WEB_CONCURRENCY and PORT set the defaults', async (t) => {
  const r = await resolveStart(['app.js'], { WEB_CONCURRENCY: '5', PORT: '9100' }, project(t, {}));
  t.is(r.config.workers, 5);
  t.is(r.sources.workers, 'env');
  t.deepEqual(r.config.bind, ['0.0.0.0:9100']);
  t.is(r.sources.bind, 'env');
});

test('GSUP_CMD_ARGS wins over the config file', async (t) => {
  const r = await resolveStart(
    ['app.js'],
    { GSUP_CMD_ARGS: '-w 4 --timeout "12"' },
    project(t, FILE),
  );
  t.is(r.config.workers, 4);
  t.is(r.sources.workers, 'cmdargs');
  t.is(r.config.timeout, 12);
});

test('the command line wins over GSUP_CMD_ARGS', async (t) => {
  const r = await resolveStart(['app.js', '-w', '2'], { GSUP_CMD_ARGS: '-w 4' }, project(t, FILE));
  t.is(r.config.workers, 2);
  t.is(r.sources.workers, 'cli');
});

test('the command line wins over the config file', async (t) => {
  const r = await resolveStart(['app.js', '-t', '9'], {}, project(t, FILE));
  t.is(r.config.timeout, 9);
  t.is(r.sources.timeout, 'cli');
  t.is(r.config.workers, 3, 'what the command line does not set still comes from the file');
});

test('the first of gsup.config.{js,mjs,cjs,json} is used; -c names another', async (t) => {
  const dir = project(t, {
    'gsup.config.js': 'export default { workers: 6 };\n',
    'gsup.config.json': '{"workers": 8}',
    'other.cjs': 'module.exports = { workers: 9, app: "slow.js" };\n',
  });
  t.is((await resolveStart(['app.js'], {}, dir)).config.workers, 6);
  const other = await resolveStart(['-c', 'other.cjs'], {}, dir);
  t.is(other.config.workers, 9);
  t.is(other.app, 'slow.js');
  t.is(other.appSource, 'file');
});

// ---- bad values, from each source ---------------------------------------------------------------

async function refused(
  t: ExecutionContext,
  argv: string[],
  env: Record<string, string>,
  files: Record<string, string>,
  expected: RegExp,
) {
  const err = await t.throwsAsync(resolveStart(argv, env, project(t, files)), {
    instanceOf: ConfigError,
  });
  t.regex(err?.message ?? '', expected);
  t.false((err?.message ?? '').includes('\n'), 'one line');
}

test('a bad value in a JSON config file names the setting, the value and the file', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.json': '{"workers": "abc"}' },
    /^workers: expected a whole number from 1 to 1024, got "abc" \(from the config file gsup\.config\.json\)$/,
  ));

test('a bad value in a JS config file', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.mjs': 'export default { timeout: -3 };' },
    /^timeout: expected a number of seconds from 0 to 86400, got -3 \(from the config file gsup\.config\.mjs\)$/,
  ));

test('a bad value in GSUP_CMD_ARGS', (t) =>
  refused(
    t,
    ['app.js'],
    { GSUP_CMD_ARGS: '-w abc' },
    {},
    /^workers: expected a whole number from 1 to 1024, got "abc" \(from GSUP_CMD_ARGS\)$/,
  ));

test('an unknown flag in GSUP_CMD_ARGS', (t) =>
  refused(
    t,
    ['app.js'],
    { GSUP_CMD_ARGS: '--wrkers 2' },
    {},
    /unknown option --wrkers; did you mean --workers\?.*GSUP_CMD_ARGS/,
  ));

test('a bad value on the command line', (t) =>
  refused(
    t,
    ['app.js', '--umask', '999'],
    {},
    {},
    /^umask: expected an octal mode like 022 or 0o027, got "999" \(from the command line\)$/,
  ));

test('a bad WEB_CONCURRENCY', (t) =>
  refused(
    t,
    ['app.js'],
    { WEB_CONCURRENCY: 'lots' },
    {},
    /^workers: .*"lots" \(from WEB_CONCURRENCY, the environment\)$/,
  ));

test('an unknown config key gets a did-you-mean', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.json': '{"gracefulTimout": 5}' },
    /unknown setting "gracefulTimout" in the config file gsup\.config\.json; did you mean gracefulTimeout\?/,
  ));

test('a syntax error in a JS config file names the file and line', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.mjs': 'export default {\n  workers: 2,\n' },
    /^config file gsup\.config\.mjs: SyntaxError: .* \(at gsup\.config\.mjs:\d+\)$/,
  ));

test('invalid JSON names the file', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.json': '{"workers": 2,' },
    /^config file gsup\.config\.json: invalid JSON: /,
  ));

test('a hook that is not a function', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.mjs': 'export default { onReady: 5 };' },
    /^onReady: expected a function \(a hook\), got number/,
  ));

test('a bad --env entry', (t) =>
  refused(t, ['app.js', '--env', 'NOEQUALS'], {}, {}, /^env: expected KEY=VALUE, got "NOEQUALS"/));

test('-c naming a missing file', (t) =>
  refused(t, ['app.js', '-c', 'nope.json'], {}, {}, /^config: file not found: nope\.json/));

// ---- the real CLI -------------------------------------------------------------------------------

test('gsup check prints each setting with its source, and refuses bad config with exit 2', async (t) => {
  const dir = project(t, { 'gsup.config.json': JSON.stringify({ app: 'slow.js', workers: 3 }) });
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  const r = run(['check', '-t', '9'], { GSUP_CMD_ARGS: '--backlog 100' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^app\s+slow\.js\s+\(file\)$/m);
  t.regex(r.stdout, /^workers\s+3\s+\(file\)$/m);
  t.regex(r.stdout, /^timeout\s+9\s+\(command line\)$/m);
  t.regex(r.stdout, /^backlog\s+100\s+\(GSUP_CMD_ARGS\)$/m);
  t.regex(r.stdout, /^graceful-timeout\s+30\s+\(default\)$/m);
  t.regex(r.stdout, /the configuration is valid \(config file gsup\.config\.json\)/);
  writeFileSync(`${dir}/gsup.config.json`, JSON.stringify({ app: 'slow.js', workers: 0 }));
  const bad = run(['check']);
  t.is(bad.status, 2);
  t.is(
    bad.stderr,
    'gsup: workers: expected a whole number from 1 to 1024, got 0 (from the config file gsup.config.json)\n',
  );
});

test('reload with a broken config file keeps serving; with the fixed file it applies', async (t) => {
  const dir = project(t, {
    'gsup.config.mjs': "export default { app: 'slow.js', workers: 2, bind: '127.0.0.1:0' };\n",
  });
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const before = g.readyPids().sort();
  writeFileSync(`${dir}/gsup.config.mjs`, "export default { app: 'slow.js', workers: 'two' };\n");
  g.child.kill('SIGHUP');
  await g.waitFor(
    /reload not done: workers: expected a whole number from 1 to 1024, got "two" \(from the config file gsup\.config\.mjs\); the running config and workers are kept/,
  );
  t.deepEqual(g.readyPids().sort(), before);
  t.is((await get(url)).status, 200);
  writeFileSync(
    `${dir}/gsup.config.mjs`,
    "export default { app: 'slow.js', workers: 3, bind: '127.0.0.1:0' };\n",
  );
  const r = await gsupVerb(['reload'], { XDG_RUNTIME_DIR: g.runtimeDir });
  t.is(r.code, 0, r.stderr);
  await until('3 workers ready', () => g.readyPids().length === 3);
  t.false(g.readyPids().some((p) => before.includes(p)));
});

test('hooks: one is called, one that throws is logged and gsup carries on', async (t) => {
  const dir = project(t, {});
  const marker = `${dir}/ready-hook.json`;
  writeFileSync(
    `${dir}/gsup.config.mjs`,
    `import { writeFileSync } from 'node:fs';
export default {
  app: 'slow.js',
  workers: 2,
  bind: '127.0.0.1:0',
  onReady: (pool) => writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ ready: pool.ready, frozen: Object.isFrozen(pool) })),
  onWorkerSpawn: () => { throw new Error('hook bug'); },
};
`,
  );
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  const url = await g.url();
  await g.waitFor(/hook onWorkerSpawn threw: hook bug; carrying on/);
  // The file exists a moment before its contents are written: wait until it reads whole.
  const written = () => {
    try {
      return JSON.parse(readFileSync(marker, 'utf8')) as unknown;
    } catch {
      return null;
    }
  };
  await until('the onReady hook wrote its file', () => written() !== null);
  t.deepEqual(written(), { ready: 2, frozen: true });
  t.is((await get(url)).status, 200);
});

test('a reload refused because its new bind is busy keeps the running hooks', async (t) => {
  const dir = project(t, {});
  const busy = net.createServer((s) => s.end());
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const busyPort = (busy.address() as net.AddressInfo).port;
  const calls = `${dir}/hook-calls.txt`;
  // Each version of the file's hooks appends its own name, so the log says which one ran.
  const config = (version: string, bind: string) => `import { appendFileSync } from 'node:fs';
const note = (what) => appendFileSync(${JSON.stringify(calls)}, \`\${what} ${version}\\n\`);
export default {
  app: 'slow.js',
  workers: 1,
  bind: ${JSON.stringify(bind)},
  onReload: () => note('reload'),
  onScale: () => note('scale'),
};
`;
  writeFileSync(`${dir}/gsup.config.mjs`, config('old', '127.0.0.1:0'));
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  const url = await g.url();
  await g.waitFor(/all 1 workers ready/);
  writeFileSync(`${dir}/gsup.config.mjs`, config('new', `127.0.0.1:${busyPort}`));
  g.child.kill('SIGHUP');
  await g.waitFor(
    new RegExp(
      `reload not done: .*127\\.0\\.0\\.1:${busyPort}.*; the running config and workers are kept`,
    ),
  );
  await until('the onReload hook ran', () => existsSync(calls));
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const scaled = await gsupVerb(['scale', '2'], env);
  t.is(scaled.code, 0, scaled.stderr);
  await until('the onScale hook ran', () => readFileSync(calls, 'utf8').includes('scale'));
  t.deepEqual(readFileSync(calls, 'utf8').trim().split('\n'), ['reload old', 'scale old']);
  t.is((await get(url)).status, 200);
  const stopped = await gsupVerb(['stop'], env);
  t.is(stopped.code, 0, stopped.stderr);
  t.is(await g.exited, 0);
});

test('a reload that changes a setting needing a restart says so in one line', async (t) => {
  const dir = project(t, {
    'gsup.config.json': JSON.stringify({ app: 'slow.js', workers: 1, bind: '127.0.0.1:0' }),
  });
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  await g.waitFor(/all 1 workers ready/);
  writeFileSync(
    `${dir}/gsup.config.json`,
    JSON.stringify({ app: 'slow.js', workers: 1, bind: '127.0.0.1:0', name: 'renamed' }),
  );
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const r = await gsupVerb(['reload'], env);
  t.is(r.code, 0, r.stderr);
  const note =
    /name changed in the config file \(default → renamed\); it takes effect when gsup is restarted/;
  await g.waitFor(note);
  t.is(g.count(note), 1);
  // The control socket keeps the name gsup started with: the reload did not move it.
  const status = await gsupVerb(['status'], env);
  t.is(status.code, 0, status.stderr);
  const stopped = await gsupVerb(['stop'], env);
  t.is(stopped.code, 0, stopped.stderr);
  t.is(await g.exited, 0);
});

test('a throwing onStarting aborts the start with its error', async (t) => {
  const dir = project(t, {
    'gsup.config.mjs':
      "export default { app: 'slow.js', bind: '127.0.0.1:0', onStarting() { throw new Error('migrations pending'); } };\n",
  });
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  t.is(await g.exited, 1);
  t.is(g.stderr(), 'gsup: onStarting hook threw: migrations pending; not starting\n');
  t.is(g.countEvents('worker-spawn'), 0);
});

test('--env, --chdir and --umask reach the workers', async (t) => {
  const dir = project(t, {});
  const g = gsup(
    t,
    [
      'start',
      'env-echo.js',
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
      '--no-tui',
      '--env',
      'GREETING=hello there',
      '--chdir',
      dir,
      '--umask',
      '027',
    ],
    { cwd: FIXTURES },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const r = JSON.parse((await get(`${url}/?name=GREETING`)).body) as {
    value: string;
    cwd: string;
    umask: number;
  };
  t.is(r.value, 'hello there');
  t.is(r.cwd, dir);
  t.is(r.umask, 0o27);
});

test('--user drops the workers to another user while gsup binds as root', async (t) => {
  if (process.getuid?.() !== 0) {
    t.log('skipped: privilege drop needs the tests to run as root');
    t.pass();
    return;
  }
  const dir = project(t, {});
  // The app must be readable by the other user.
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o755);
  const g = gsup(
    t,
    ['start', 'env-echo.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui', '--user', 'nobody'],
    { cwd: dir },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const r = JSON.parse((await get(url)).body) as { uid: number };
  t.is(r.uid, 65534);
  const [pid] = g.readyPids();
  t.regex(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+65534\s/m);
  t.is(statSync(`/proc/${g.pid}`).uid, 0, 'the supervisor stays root');
});

test('--user naming nobody known is a usage error', async (t) => {
  const g = gsup(t, [
    'start',
    'slow.js',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--user',
    'no-such-user-x',
  ]);
  t.is(await g.exited, 2);
  t.regex(g.stderr(), /^gsup: user: no such user "no-such-user-x" on this machine/);
});

// ---- env as an object (issue 14, item 13) -------------------------------------------------------

test('env in a config file may be an object, as everyone writes it', async (t) => {
  const dir = project(t, {
    'gsup.config.mjs':
      "export default { env: { NODE_ENV: 'production', RETRIES: 3, DEBUG: false } };\n",
  });
  const r = await resolveStart(['app.js'], {}, dir);
  t.deepEqual(r.config.env, ['NODE_ENV=production', 'RETRIES=3', 'DEBUG=false']);
  t.is(r.sources.env, 'file');
  // The strings form still works, and the command line still wins.
  const json = project(t, { 'gsup.config.json': '{"env": ["A=1", "B=2"]}' });
  t.deepEqual((await resolveStart(['app.js'], {}, json)).config.env, ['A=1', 'B=2']);
  t.deepEqual((await resolveStart(['app.js', '--env', 'C=3'], {}, dir)).config.env, ['C=3']);
});

test('env as an object refuses a value that is not a string, number or boolean', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.json': '{"env": {"NODE_ENV": {"nested": 1}}}' },
    /^env: expected a string, number or boolean for NODE_ENV, got \{"nested":1\} \(from the config file gsup\.config\.json\)$/,
  ));

test('env as an object refuses a key that is not a variable name', (t) =>
  refused(
    t,
    ['app.js'],
    {},
    { 'gsup.config.json': '{"env": {"NODE ENV": "x"}}' },
    /^env: expected variable names like NODE_ENV, got "NODE ENV"/,
  ));

// ---- gsup check loads the app (issue 14, item 14) -----------------------------------------------

/** `gsup check ARGS` in the fixtures folder, with its own runtime dir. */
function check(t: ExecutionContext, args: string[], env: Record<string, string> = {}) {
  const runtimeDir = tempDir(t, 'run');
  const r = spawnSync(process.execPath, [BIN, 'check', ...args], {
    cwd: FIXTURES,
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, ...env },
    encoding: 'utf8',
  });
  return { ...r, runtimeDir };
}

test('gsup check loads the app: one that throws at import fails with its own one-line error', (t) => {
  const r = check(t, ['throws-at-import.js']);
  t.is(r.status, 3, r.stdout);
  t.is(
    r.stderr,
    'gsup: check: the app does not load: throws-at-import.js threw while loading: database url is not set (at throws-at-import.js:2:7)\n',
  );
  t.is(r.stdout, '');
});

test('gsup check fails for an export of the wrong shape, as gsup start would', (t) => {
  const r = check(t, ['not-an-app.js:nope']);
  t.is(r.status, 3);
  t.regex(r.stderr, /^gsup: check: the app does not load: not-an-app\.js has no export 'nope'/);
});

test('gsup check passes a good app, shows the real control socket and every setting under its flag', (t) => {
  const r = check(t, ['slow.js', '--name', 'web']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /the configuration is valid and the app loads \(a request listener\)/);
  t.true(
    r.stdout
      .split('\n')
      .some((l) => /^control\s/.test(l) && l.includes(`${r.runtimeDir}/gsup/web.sock`)),
    r.stdout,
  );
  for (const s of SETTINGS) t.regex(r.stdout, new RegExp(`^${s.flag}\\s`, 'm'), s.flag);
  t.regex(r.stdout, /^no-tui\s+false\s+\(default\)$/m);
  t.regex(r.stdout, /^no-control\s+false\s+\(default\)$/m);
  const off = check(t, ['slow.js', '--no-control']);
  t.regex(off.stdout, /^control\s+\(off: --no-control\)/m);
  t.regex(off.stdout, /^no-control\s+true\s+\(command line\)$/m);
});

test('gsup check warns about an app that calls listen() itself, and never opens that port', async (t) => {
  // The port is held here: a check that really listened would hit EADDRINUSE.
  const held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.teardown(() => held.close());
  const port = (held.address() as net.AddressInfo).port;
  const r = check(t, ['listens-and-exports.cjs', '--env', `OWN_PORT=${port}`]);
  t.is(r.status, 0, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `^gsup: warning: the app calls listen\\(\\) itself \\(127\\.0\\.0\\.1:${port}, at listens-and-exports\\.cjs:\\d+`,
    ),
  );
  t.regex(r.stdout, /the app loads/);
});
