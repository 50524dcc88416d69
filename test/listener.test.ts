// Socket sources against the real CLI: unix sockets (fresh, stale, in use, not a socket), IPv6,
// inherited fds (fd://N), systemd socket activation, several binds at once, and addresses that
// cannot be bound. Every test makes its own port and its own temp paths.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { EXIT_FAILURE } from '../src/exit-codes.js';
import { type Gsup, get, getUnix, gsup } from './helpers.js';

const _BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

/** A fresh path in the temp folder, removed after the test. */
function tempPath(t: ExecutionContext, name: string): string {
  const path = join(tmpdir(), `gsup-listener-${randomBytes(6).toString('hex')}-${name}`);
  t.teardown(() => rmSync(path, { force: true }));
  return path;
}

/** A string as a regular expression that matches it literally. */
function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Lines that look like a JavaScript stack frame. */
const STACK_FRAME = /^\s+at /;

/** Waits until gsup either prints a line matching `pattern` or exits, and says which. */
async function lineOrExit(
  g: Gsup,
  pattern: RegExp,
): Promise<{ line: string } | { exit: number | string }> {
  try {
    return { line: (await g.waitFor(pattern))[0] };
  } catch (err) {
    if (/exited before printing/.test((err as Error).message)) return { exit: await g.exited };
    throw err;
  }
}

/** A TCP socket bound to 127.0.0.1 on a free port but not listening, as systemd or a parent would hand over. */
function boundTcpSocket(t: ExecutionContext): { fd: number; port: number } {
  type Handle = { fd: number; close(): void; getsockname(out: Record<string, unknown>): number };
  const create = (
    net as unknown as {
      _createServerHandle: (address: string, port: number, family: number) => Handle | number;
    }
  )._createServerHandle;
  const handle = create('127.0.0.1', 0, 4);
  if (typeof handle === 'number') throw new Error(`cannot bind a test socket: errno ${handle}`);
  t.teardown(() => handle.close());
  const out: Record<string, unknown> = {};
  handle.getsockname(out);
  if (typeof out.port !== 'number' || out.port === 0) throw new Error('no port for test socket');
  return { fd: handle.fd, port: out.port };
}

/** Leaves a unix socket file behind with nobody accepting on it: bind in a child, SIGKILL it. */
async function staleSocket(path: string): Promise<void> {
  const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('up')) resolve();
    });
    child.once('exit', () => reject(new Error('the socket-making child exited early')));
  });
  child.kill('SIGKILL');
  await exited;
}

test('unix: socket serves HTTP and the socket file is removed after SIGTERM', async (t) => {
  const sock = tempPath(t, 'app.sock');
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', `unix:${sock}`, '--no-tui']);
  await g.waitFor(new RegExp(`listening at unix:${escapeRe(sock)}$`));
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  t.true(lstatSync(sock).isSocket());
  const r = await getUnix(sock, '/hello');
  t.is(r.status, 200);
  const pid = Number(/^done (\d+)$/.exec(r.body.trim())?.[1]);
  t.true(g.readyPids().includes(pid), `answered by ${r.body.trim()}`);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.false(existsSync(sock), 'the socket file is still there after gsup stopped');
});

test('a stale unix socket file left by a dead process is replaced', async (t) => {
  const sock = tempPath(t, 'stale.sock');
  await staleSocket(sock);
  t.true(lstatSync(sock).isSocket(), 'the stale socket file was not left behind');
  // Nobody accepts on it: connecting is refused.
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(sock);
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.is(refused, 'ECONNREFUSED');

  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', `unix:${sock}`, '--no-tui']);
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const r = await getUnix(sock);
  t.is(r.status, 200);
  t.regex(r.body, /^done \d+\n$/);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.false(existsSync(sock));
});

test('a unix socket another server is accepting on is left alone: one-line error, no worker', async (t) => {
  const sock = tempPath(t, 'busy.sock');
  const other = net.createServer((s) => {
    s.on('error', () => undefined); // gsup's probe connects and hangs up at once
    s.end('other\n');
  });
  await new Promise<void>((resolve) => other.listen(sock, resolve));
  t.teardown(() => new Promise<void>((resolve) => other.close(() => resolve())));

  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', `unix:${sock}`, '--no-tui']);
  t.is(await g.exited, EXIT_FAILURE);
  const errLines = g.stderr().trim().split('\n');
  t.is(errLines.length, 1, g.stderr());
  t.regex(errLines[0] ?? '', new RegExp(`unix:${escapeRe(sock)}.*(accepting|in use)`));
  t.is(g.countEvents('worker-spawn'), 0);
  // The other server still owns its socket.
  t.true(lstatSync(sock).isSocket());
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect(sock);
    s.on('data', (c: Buffer) => {
      text += c.toString();
    });
    s.once('end', () => resolve(text));
    s.once('error', reject);
  });
  t.is(answer, 'other\n');
});

test('a unix: path that is a regular file: one-line error, non-zero exit, file kept, no worker', async (t) => {
  const path = tempPath(t, 'regular.txt');
  writeFileSync(path, 'keep me\n');
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', `unix:${path}`, '--no-tui']);
  const code = await g.exited;
  t.not(code, 0);
  t.is(code, EXIT_FAILURE);
  const errLines = g.stderr().trim().split('\n');
  t.is(errLines.length, 1, g.stderr());
  t.true(errLines[0]?.includes(`unix:${path}`), errLines[0]);
  t.regex(errLines[0] ?? '', /not a socket/);
  t.false(g.lines.some((l) => STACK_FRAME.test(l)));
  t.is(g.countEvents('worker-spawn'), 0);
  t.is(g.count(/listening at/), 0);
  t.true(lstatSync(path).isFile(), 'the regular file was touched');
});

test('[::1]:0 serves over IPv6 loopback when the machine has it', async (t) => {
  const v6 = await new Promise<string | null>((resolve) => {
    const s = net.createServer();
    s.once('error', (e: Error) => resolve(e.message));
    s.listen(0, '::1', () => s.close(() => resolve(null)));
  });
  if (v6 !== null) {
    t.log(`skipped: IPv6 loopback is not available here (${v6})`);
    t.pass();
    return;
  }
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '[::1]:0', '--no-tui']);
  const url = await g.url();
  t.regex(url, /^http:\/\/\[::1\]:\d+$/);
  t.not(url, 'http://[::1]:0');
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const r = await get(url);
  t.is(r.status, 200);
  t.regex(r.body, /^done \d+\n$/);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

// Regression: adopting an fd once crashed on Node's `!address && !port` assertion.
test('fd://N serves on a socket inherited from the parent', async (t) => {
  const sock = boundTcpSocket(t);
  // The test's fd becomes fd 3 in gsup.
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', 'fd://3', '--no-tui'], {
    fds: [sock.fd],
  });
  const url = await g.url();
  t.is(url, `http://127.0.0.1:${sock.port}`);
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const r = await get(`${url}/x`);
  t.is(r.status, 200);
  const pid = Number(/^done (\d+)$/.exec(r.body.trim())?.[1]);
  t.true(g.readyPids().includes(pid), `answered by ${r.body.trim()}`);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('fd://N that is not open, or not a socket: one-line error, no worker', async (t) => {
  const missing = gsup(t, ['start', 'slow.js', '-w', '1', '-b', 'fd://97', '--no-tui']);
  t.is(await missing.exited, EXIT_FAILURE);
  t.is(missing.stderr().trim().split('\n').length, 1, missing.stderr());
  t.regex(missing.stderr(), /fd:\/\/97.*no such open file descriptor/);
  t.is(missing.countEvents('worker-spawn'), 0);

  // The harness gives gsup /dev/null as stdin (fd 0): open, but not a socket.
  const notSocket = gsup(t, ['start', 'slow.js', '-w', '1', '-b', 'fd://0', '--no-tui']);
  t.is(await notSocket.exited, EXIT_FAILURE);
  t.is(notSocket.stderr().trim().split('\n').length, 1, notSocket.stderr());
  t.regex(notSocket.stderr(), /fd:\/\/0.*not a socket/);
  t.is(notSocket.countEvents('worker-spawn'), 0);
});

// Regression: systemd fds are adopted like fd://N.
test('systemd socket activation: LISTEN_FDS=1 with LISTEN_PID of gsup itself serves on fd 3', async (t) => {
  const sock = boundTcpSocket(t);
  // exec keeps the shell's pid, so $$ is the pid gsup will have. No -b: the fd is the bind.
  const g = gsup(t, ['start', 'echoes-listen-env.js', '-w', '1', '--no-tui'], {
    fds: [sock.fd],
    env: { LISTEN_PID: undefined, LISTEN_FDS: undefined, PORT: undefined },
    shell: 'LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$0" "$@"',
  });
  const url = await g.url();
  t.is(url, `http://127.0.0.1:${sock.port}`);
  const announced = await g.waitFor(/gsup \S+ \(pid (\d+)\) serving/);
  t.is(Number(announced[1]), g.pid, 'exec did not keep the pid');
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  t.is(g.count(/listening at/), 1, 'gsup bound something besides the activated socket');
  const r = await get(url);
  t.is(r.status, 200);
  const seen = JSON.parse(r.body) as {
    pid: number;
    LISTEN_FDS: string | null;
    LISTEN_PID: string | null;
  };
  t.true(g.readyPids().includes(seen.pid));
  // The worker sees its own fds (docs/worker-protocol.md): one socket at fd 3, and its own pid.
  t.is(seen.LISTEN_FDS, '1');
  t.is(seen.LISTEN_PID, String(seen.pid));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('systemd variables meant for another pid are ignored: -b is used instead', async (t) => {
  const sock = boundTcpSocket(t);
  const g = gsup(
    t,
    ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'],
    // LISTEN_PID names the test runner, not gsup: these fds are not for gsup.
    { fds: [sock.fd], env: { LISTEN_FDS: '1', LISTEN_PID: String(process.pid) } },
  );
  const url = await g.url();
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(url, `http://127.0.0.1:${sock.port}`);
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('two binds at once (TCP and unix) both serve', async (t) => {
  const sock = tempPath(t, 'both.sock');
  const g = gsup(t, [
    'start',
    'slow.js',
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '-b',
    `unix:${sock}`,
    '--no-tui',
  ]);
  const url = await g.url();
  await g.waitFor(new RegExp(`listening at unix:${escapeRe(sock)}$`));
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  t.is(g.count(/listening at/), 2);
  const overTcp = await get(`${url}/tcp`);
  const overUnix = await getUnix(sock, '/unix');
  for (const r of [overTcp, overUnix]) {
    t.is(r.status, 200);
    const pid = Number(/^done (\d+)$/.exec(r.body.trim())?.[1]);
    t.true(g.readyPids().includes(pid), `answered by ${r.body.trim()}`);
  }
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.false(existsSync(sock));
});

test('a host that does not resolve: one-line error naming it, no worker', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', 'no-such-host.invalid:0', '--no-tui']);
  t.is(await g.exited, EXIT_FAILURE);
  const errLines = g.stderr().trim().split('\n');
  t.is(errLines.length, 1, g.stderr());
  t.regex(errLines[0] ?? '', /no-such-host\.invalid/);
  t.false(g.lines.some((l) => STACK_FRAME.test(l)));
  t.is(g.countEvents('worker-spawn'), 0);
});

// Regression: libuv defers EADDRINUSE from bind() to listen(); the supervisor, which only binds,
// once reported the busy address and its workers ended up on a random port.
test('a port already in use: one-line error naming the address, non-zero exit, no worker', async (t) => {
  const other = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end();
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => other.close(() => resolve())));
  const port = (other.address() as net.AddressInfo).port;

  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', `127.0.0.1:${port}`, '--no-tui']);
  // Either gsup gives up (right) or it boots a worker (wrong); wait for whichever comes first.
  const outcome = await lineOrExit(g, /booting worker/);
  if ('line' in outcome) {
    t.fail(`gsup started a worker on a busy port:\n${g.lines.join('\n')}`);
    return;
  }
  const code = await g.exited;
  t.not(code, 0);
  t.is(code, EXIT_FAILURE);
  const errLines = g.stderr().trim().split('\n');
  t.is(errLines.length, 1, g.stderr());
  t.true(errLines[0]?.includes(`127.0.0.1:${port}`), errLines[0]);
  t.regex(errLines[0] ?? '', /in use|EADDRINUSE/);
  t.false(
    g.lines.some((l) => STACK_FRAME.test(l)),
    g.lines.join('\n'),
  );
  t.is(g.countEvents('worker-spawn'), 0);
});
