// The control socket and the verbs that use it, against real supervisors over real sockets.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { remoteCommands, remoteSource } from '../dist/cli/remote.js';
import { ControlClient } from '../dist/control/client.js';
import { Dashboard } from '../dist/dashboard/dashboard.js';
import { type Gsup, get, gsup, gsupVerb, isAlive, tempDir, until } from './helpers.js';
import { HeadlessTerminal } from './term.js';

async function running(
  t: ExecutionContext,
  extra: string[] = [],
  app = 'slow.js',
): Promise<Gsup & { env: Record<string, string> }> {
  const g = gsup(t, ['start', app, '-w', '2', '-b', '127.0.0.1:0', '--no-tui', ...extra]);
  await g.url();
  await g.waitForEvent('pool-ready');
  return Object.assign(g, { env: { XDG_RUNTIME_DIR: g.runtimeDir } });
}

/** Sends raw lines on the control socket and collects reply lines until `count` arrived. */
function raw(path: string, payload: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(path);
    let buffer = '';
    const lines: string[] = [];
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(payload));
    conn.on('data', (c: string) => {
      buffer += c;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
      if (lines.length >= count) {
        conn.destroy();
        resolve(lines);
      }
    });
    conn.on('close', () => resolve(lines));
    conn.on('error', reject);
  });
}

test('status prints the pool as a table and as JSON', async (t) => {
  const g = await running(t);
  const table = await gsupVerb(['status'], g.env);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /workers 2\/2 ready/);
  for (const pid of g.readyPids()) t.regex(table.stdout, new RegExp(`\\b${pid}\\b.*ready`));
  const json = await gsupVerb(['status', '--json'], g.env);
  t.is(json.code, 0);
  const snap = JSON.parse(json.stdout) as { pid: number; workers: Array<{ pid: number }> };
  t.is(snap.pid, g.pid);
  t.deepEqual(snap.workers.map((w) => w.pid).sort(), g.readyPids().sort());
});

test('scale N, +N and -N change the count; out-of-range values are refused with a reason', async (t) => {
  const g = await running(t, ['--max-workers', '4']);
  t.is((await gsupVerb(['scale', '3'], g.env)).code, 0);
  await until('3 ready', () => g.readyPids().length === 3);
  t.is((await gsupVerb(['scale', '+1'], g.env)).code, 0);
  await until('4 ready', () => g.readyPids().length === 4);
  t.is((await gsupVerb(['scale', '-2'], g.env)).code, 0);
  await until('2 ready', () => g.readyPids().length === 2);
  for (const [arg, message] of [
    ['0', /never goes below 1 worker, got 0/],
    ['100000', /100000 is above max-workers 4/],
  ] as const) {
    const r = await gsupVerb(['scale', arg], g.env);
    t.is(r.code, 1);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1);
  }
  const bad = await gsupVerb(['scale', 'many'], g.env);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /scale: expected N, \+N or -N, got "many"/);
  t.is(g.readyPids().length, 2);
});

test('reload waits for the result and exits to match: done, then rolled back', async (t) => {
  const dir = tempDir(t, 'ctl');
  writeFileSync(`${dir}/app.js`, "export default (req, res) => res.end('v1\\n');\n");
  const g = gsup(t, ['start', 'app.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui'], { cwd: dir });
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  writeFileSync(`${dir}/app.js`, "export default (req, res) => res.end('v2\\n');\n");
  const ok = await gsupVerb(['reload'], env);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /reload done/);
  t.is((await get(url)).body, 'v2\n');
  writeFileSync(`${dir}/app.js`, "throw new Error('bad deploy');\n");
  const bad = await gsupVerb(['reload'], env);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /rolled back.*bad deploy/);
  t.is((await get(url)).body, 'v2\n');
});

test('stop waits until gsup is gone; the socket file goes with it', async (t) => {
  const g = await running(t);
  const path = `${g.runtimeDir}/gsup/default.sock`;
  t.true(existsSync(path));
  const r = await gsupVerb(['stop'], g.env);
  t.is(r.code, 0);
  t.regex(r.stdout, /stopped \(graceful\)/);
  t.is(await g.exited, 0);
  t.false(existsSync(path));
  const after = await gsupVerb(['status'], g.env);
  t.is(after.code, 1);
  t.regex(
    after.stderr,
    /^gsup: no gsup named "default" is running \(no control socket at .*default\.sock\)/,
  );
  t.is(after.stderr.trim().split('\n').length, 1);
});

test('stop --quick', async (t) => {
  const g = await running(t);
  const r = await gsupVerb(['stop', '--quick'], g.env);
  t.is(r.code, 0);
  t.is(await g.exited, 0);
  t.is(g.count(/on quick stop/), 2);
});

test('every verb says clearly when no instance is running', async (t) => {
  const env = { XDG_RUNTIME_DIR: tempDir(t, 'none') };
  for (const args of [
    ['status'],
    ['scale', '2'],
    ['reload'],
    ['stop'],
    ['top'],
    ['status', '--name', 'other'],
  ]) {
    const r = await gsupVerb(args, env);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, /^gsup: no gsup named "(default|other)" is running/);
    t.notRegex(r.stderr, /\n\s+at /);
  }
});

test('bad requests get an error reply naming the problem; the supervisor carries on', async (t) => {
  const g = await running(t);
  const path = `${g.runtimeDir}/gsup/default.sock`;
  const cases: Array<[string, RegExp]> = [
    ['this is not json\n', /malformed JSON/],
    ['[1,2]\n', /malformed JSON: expected an object/],
    ['{"nocmd":1}\n', /missing "cmd"/],
    ['{"cmd":"stauts"}\n', /unknown command "stauts"; did you mean status\?/],
    ['{"cmd":"scale","to":"lots"}\n', /scale: expected "to" as N, "\+N" or "-N", got "lots"/],
    ['{"cmd":"kill","pid":"abc"}\n', /kill: expected "pid" as a worker's pid, got "abc"/],
    ['{"cmd":"kill","pid":1}\n', /kill: no live worker has pid 1/],
    ['{"cmd":"recycle"}\n', /recycle: expected "pid"/],
  ];
  for (const [line, expected] of cases) {
    const [reply] = await raw(path, line, 1);
    const r = JSON.parse(reply ?? '{}') as { v: number; ok: boolean; error: string };
    t.is(r.v, 1, 'every reply carries the protocol version');
    t.false(r.ok, line);
    t.regex(r.error, expected);
  }
  // An endless line is cut off, answered and closed, without buffering it all.
  const [big] = await raw(path, 'x'.repeat(200_000), 1);
  t.regex(big ?? '', /request line longer than 65536 bytes/);
  // Many clients at once, some leaving mid-stream.
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => raw(path, '{"cmd":"subscribe"}\n', 2)),
  );
  for (const lines of clients) t.true(lines.length >= 2);
  const status = await gsupVerb(['status', '--json'], g.env);
  t.is(status.code, 0);
  t.is((JSON.parse(status.stdout) as { ready: number }).ready, 2);
  t.true(isAlive(g.pid));
});

test('the socket is 0600 in a 0700 directory the user owns', async (t) => {
  const g = await running(t);
  const dir = `${g.runtimeDir}/gsup`;
  const sock = statSync(`${dir}/default.sock`);
  t.true(sock.isSocket());
  t.is(sock.mode & 0o777, 0o600);
  const d = statSync(dir);
  t.is(d.mode & 0o777, 0o700);
  t.is(d.uid, process.getuid?.() ?? -1);
});

test('a world-writable control directory is refused before anything starts', async (t) => {
  const dir = tempDir(t, 'open');
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o777);
  const g = gsup(t, [
    'start',
    'slow.js',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--control',
    `${dir}/c.sock`,
  ]);
  t.is(await g.exited, 1);
  t.regex(
    g.stderr(),
    /control socket directory .* is world-writable; use --control PATH in a private directory/,
  );
  t.is(g.countEvents('worker-spawn'), 0);
});

test('a stale control socket is replaced', async (t) => {
  const runtimeDir = tempDir(t, 'stale');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(`${runtimeDir}/gsup`, { mode: 0o700 });
  const path = `${runtimeDir}/gsup/default.sock`;
  // A process that dies by SIGKILL leaves its socket file behind.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve) => child.stdout?.once('data', resolve));
  child.kill('SIGKILL');
  await until('the dead server is gone', () => !isAlive(child.pid ?? 0));
  t.true(existsSync(path));
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    env: { XDG_RUNTIME_DIR: runtimeDir },
  });
  await g.waitFor(/replaced a stale control socket/);
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const r = await gsupVerb(['status', '--json'], { XDG_RUNTIME_DIR: runtimeDir });
  t.is(r.code, 0);
});

test('two instances with different names run side by side; the same name is refused', async (t) => {
  const a = await running(t, ['--name', 'alpha']);
  const b = gsup(
    t,
    ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui', '--name', 'beta'],
    {
      env: { XDG_RUNTIME_DIR: a.runtimeDir },
    },
  );
  await b.waitForEvent('pool-ready', (e) => e.workers === 1);
  const sa = JSON.parse(
    (await gsupVerb(['status', '--json', '--name', 'alpha'], a.env)).stdout,
  ) as { pid: number };
  const sb = JSON.parse((await gsupVerb(['status', '--json', '--name', 'beta'], a.env)).stdout) as {
    pid: number;
  };
  t.is(sa.pid, a.pid);
  t.is(sb.pid, b.pid);
  const clash = gsup(t, ['start', 'slow.js', '-b', '127.0.0.1:0', '--no-tui', '--name', 'alpha'], {
    env: { XDG_RUNTIME_DIR: a.runtimeDir },
  });
  t.is(await clash.exited, 1);
  t.regex(clash.stderr(), new RegExp(`another gsup named "alpha" is running \\(pid ${a.pid}\\)`));
  t.is(clash.countEvents('worker-spawn'), 0);
  t.true(isAlive(a.pid));
});

test('--pidfile: written, refused while it names a live process, removed on exit', async (t) => {
  const dir = tempDir(t, 'pid');
  const pidfile = `${dir}/gsup.pid`;
  writeFileSync(pidfile, `${process.pid}\n`);
  const refused = gsup(t, [
    'start',
    'slow.js',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--pidfile',
    pidfile,
  ]);
  t.is(await refused.exited, 1);
  t.regex(refused.stderr(), new RegExp(`pidfile .* records pid ${process.pid}, which is running`));
  writeFileSync(pidfile, '999999999\n'); // no such process: a leftover
  const g = gsup(t, [
    'start',
    'slow.js',
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--pidfile',
    pidfile,
  ]);
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  t.is(readFileSync(pidfile, 'utf8').trim(), String(g.pid));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.false(existsSync(pidfile));
});

test('gsup top: the live pool over the socket, keys act remotely, q detaches and the server runs on', async (t) => {
  const g = await running(t);
  const client = await ControlClient.connect(`${g.runtimeDir}/gsup/default.sock`, 'default');
  const term = new HeadlessTerminal(120, 40);
  let detached = false;
  const dash = new Dashboard({
    source: await remoteSource(client),
    commands: remoteCommands(client),
    quit: 'detach',
    refreshMs: 200,
    input: term.input,
    output: term.output,
    onDetach: () => {
      detached = true;
    },
  });
  t.teardown(() => {
    dash.destroy();
    client.close();
  });
  dash.start();
  const screen = (re: RegExp) =>
    until(`the screen shows ${re}`, () => re.test(term.text())).catch((err: Error) => {
      throw new Error(`${err.message}\n${term.text()}`);
    });
  await screen(/workers 2\/2 ready/);
  for (const pid of g.readyPids()) t.regex(term.text(), new RegExp(`\\b${pid}\\b`));
  term.press('+');
  await screen(/workers 3\/3 ready/);
  t.is(g.readyPids().length, 3, 'the key acted on the real pool');
  term.press('q');
  await until('detached', () => detached);
  t.true(isAlive(g.pid));
  const r = await gsupVerb(['status', '--json'], g.env);
  t.is((JSON.parse(r.stdout) as { ready: number }).ready, 3);
});

test('gsup top without a terminal says so', async (t) => {
  const g = await running(t);
  const r = await gsupVerb(['top'], g.env);
  t.is(r.code, 2);
  t.regex(r.stderr, /top needs a terminal/);
});
