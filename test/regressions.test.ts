// Regressions for defects found in review: each test names what once went wrong.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { Supervisor, type SupervisorOptions } from '../dist/index.js';
import { dieWithTest, FIXTURES, get, gsup, killQuietly, poolOptions, until } from './helpers.js';

const RUNTIME = fileURLToPath(new URL('../dist/worker/runtime.js', import.meta.url));

/** One worker unless a test asks for more. */
function pool(over: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return poolOptions({ workers: 1, ...over });
}

/** Sends a raw HTTP/1.1 request and resolves with the status line, or rejects on timeout. */
function rawStatus(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(request));
    let data = '';
    s.setEncoding('utf8');
    s.setTimeout(10_000, () => {
      s.destroy();
      reject(new Error('no answer within 10 s'));
    });
    s.on('data', (c: string) => {
      data += c;
      if (data.includes('\r\n')) {
        resolve(data.split('\r\n')[0] ?? '');
        s.destroy();
      }
    });
    s.on('error', reject);
  });
}

test('an Upgrade request to an app without an upgrade handler is answered, not swallowed', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const status = await rawStatus(
    url,
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
  );
  t.regex(status, /^HTTP\/1\.1 200/);
});

test('a worker whose process cannot even be spawned is reaped; gsup gives up with exit 3', async (t) => {
  const sup = new Supervisor(pool({ cwd: '/nonexistent/gsup-release-42' }));
  t.teardown(() => sup.stop({ quick: true }));
  await sup.start();
  t.is(await sup.done, 3);
  t.true(sup.snapshot().events.some((e) => /cannot start a worker process/.test(e.message)));
  t.is(sup.snapshot().live, 0);
});

test('a reload queued behind another does not start after stop()', async (t) => {
  const sup = new Supervisor(pool());
  t.teardown(() => sup.stop({ quick: true }));
  await sup.start();
  await until('ready', () => sup.snapshot().ready === 1);
  const first = sup.reload();
  const second = sup.reload();
  await first;
  const stopped = sup.stop();
  const r = await second;
  t.false(r.ok);
  t.regex(r.message, /stopping/);
  t.is(await stopped, 0);
  t.is(sup.snapshot().totals.reloads, 1);
  t.false(sup.snapshot().events.some((e) => e.type === 'reload-start' && e.replacing === 0));
});

test('gsup does not give up (exit 3) while other workers are still booting', async (t) => {
  const g = gsup(t, ['start', 'slot1-fails.js', '-w', '4', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await until('three slow slots are ready', () => g.readyPids().length === 3);
  t.is(g.count(/no worker could boot/), 0);
  t.regex((await get(url)).body, /^ok [234]\n$/);
  t.regex(g.stdout(), /slot 1 is cursed/);
});

test('garbage written onto the IPC fd is logged; the supervisor and the pool carry on', async (t) => {
  const g = gsup(t, ['start', 'corrupts-ipc-fd.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  await get(`${url}/garbage`);
  await g.waitFor(/a worker wrote garbage onto its IPC channel/);
  t.is((await get(url)).status, 200);
  t.is(g.child.exitCode, null);
});

test('the same address twice is a usage error, not a boot failure blamed on the app', async (t) => {
  const g = gsup(t, [
    'start',
    'slow.js',
    '-b',
    '127.0.0.1:18999',
    '-b',
    '127.0.0.1:18999',
    '--no-tui',
  ]);
  t.is(await g.exited, 2);
  t.regex(g.stderr(), /^gsup: bind: 127\.0\.0\.1:18999 is given twice\n$/);
});

test('a log file that cannot be opened is a usage error before anything starts', async (t) => {
  const g = gsup(t, [
    'start',
    'slow.js',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--log-file',
    '/nonexistent/dir/gsup.log',
  ]);
  t.is(await g.exited, 2);
  t.regex(g.stderr(), /^gsup: log-file: cannot open \/nonexistent\/dir\/gsup\.log for appending: /);
  t.is(g.countEvents('worker-spawn'), 0);
});

test('a unix socket path too long for the kernel is refused, not silently cut', async (t) => {
  const long = `/tmp/${'x'.repeat(120)}.sock`;
  const g = gsup(t, ['start', 'slow.js', '-b', `unix:${long}`, '--no-tui']);
  t.is(await g.exited, 1);
  t.regex(g.stderr(), /the path is 130 bytes; unix sockets allow 107/);
});

test('a worker spamming huge warnings cannot bloat the event log', async (t) => {
  const sup = new Supervisor(pool({ app: 'warn-spam.js' }));
  t.teardown(() => sup.stop({ quick: true }));
  await sup.start();
  await until('ready', () => sup.snapshot().ready === 1);
  await get(`${sup.urls[0]}/warn?kb=512&n=200`);
  await until('the last logged warning says the rest are dropped', () =>
    sup
      .snapshot()
      .events.some((e) => e.message.includes('further warnings from it are not logged')),
  );
  const warnings = sup.snapshot().events.filter((e) => e.type === 'worker-warning');
  t.is(warnings.length, 10);
  for (const e of warnings) t.true(e.message.length < 2200, `${e.message.length} characters`);
  t.is(sup.snapshot().ready, 1);
});

test('a worker whose supervisor vanished while it was still loading never serves (found as orphans after test runs)', async (t) => {
  // The channel closes before the runtime's module graph has loaded, so its 'disconnect' event
  // fires before anyone listens for it; the worker must still notice, and not listen for good.
  const handle = (
    net as unknown as { _createServerHandle(h: string, p: number, t: number): { fd: number } }
  )._createServerHandle('127.0.0.1', 0, 4);
  const config = {
    app: 'slow.js',
    cwd: FIXTURES,
    fds: [3],
    backlog: 511,
    heartbeatMs: 1000,
    maxRequests: 0,
    drainIdleMs: 1000,
  };
  const [file, args] = dieWithTest(process.execPath, ['--trace-sigint', RUNTIME]);
  const child = spawn(file, args, {
    env: { ...process.env, GSUP_WORKER: JSON.stringify(config), GSUP_SLOT: '1' },
    // gsup's layout (docs/worker-protocol.md): the socket at fd 3, the channel after it.
    stdio: ['ignore', 'ignore', 'ignore', handle.fd, 'ipc'],
    serialization: 'json',
  });
  t.teardown(() => killQuietly(child.pid ?? -1, 'SIGKILL'));
  child.disconnect();
  await until('the orphaned worker exits', () => child.exitCode !== null);
  t.is(child.exitCode, 0);
});
