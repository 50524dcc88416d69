// gsup under systemd: the sd_notify protocol on a real unix datagram socket that the test opens
// (Debian's Python receives), in the order systemd would see it; the watchdog's pings; workers
// that do not inherit the socket; and a gsup without its native helper, which still serves and
// says how to get notification back.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { PoolSnapshot } from '../dist/supervisor/snapshot.js';
import { formatMessage, type NotifyFields, notifyAddress } from '../dist/systemd/notify.js';
import {
  attachSystemd,
  healthy,
  statusLine,
  TICK_HEALTHY_MS,
  watchdogInterval,
} from '../dist/systemd/systemd.js';
import { openNotifySocket } from '../harness/notify-socket.js';
import { freePort } from '../harness/ports.js';
import { dieWithTest, get, gsup, ROOT, someoneListensOn, tempDir, until } from './helpers.js';

/** The messages that move systemd's state machine (watchdog pings and status-only lines left out). */
function steps(fields: Array<Record<string, string>>): string[] {
  return fields
    .filter((f) => f.READY || f.RELOADING || f.STOPPING)
    .map((f) => Object.keys(f).join('+'));
}

test('READY=1 with MAINPID once every worker is ready, RELOADING=1 and READY=1 around a HUP reload, STOPPING=1 on TERM', async (t) => {
  const dir = tempDir(t, 'notify');
  const sock = await openNotifySocket(join(dir, 'notify.sock'));
  t.teardown(() => sock.close());
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui'], {
    env: { NOTIFY_SOCKET: sock.address },
  });
  await g.waitForEvent('pool-ready');
  await until('READY=1 arrives', () => sock.fields().some((f) => f.READY === '1'));
  const ready = sock.fields().find((f) => f.READY === '1');
  t.is(ready?.MAINPID, String(g.pid));
  t.regex(ready?.STATUS ?? '', /^2\/2 workers ready, \d+ req\/s$/);
  // No READY=1 before the full set: every STATUS before it counted fewer than 2 ready.
  const before = sock.fields().slice(0, sock.fields().indexOf(ready as Record<string, string>));
  for (const f of before) t.notRegex(f.STATUS ?? '', /^2\/2/);

  const hupAt = process.hrtime.bigint() / 1000n;
  g.child.kill('SIGHUP');
  await g.waitForEvent('reload-end', (e) => e.ok);
  const afterReload = process.hrtime.bigint() / 1000n;
  await until('READY=1 after the reload', () => steps(sock.fields()).length >= 3);
  const reloading = sock.fields().find((f) => f.RELOADING === '1');
  // MONOTONIC_USEC is CLOCK_MONOTONIC in µs, the clock this test reads too.
  const usec = BigInt(reloading?.MONOTONIC_USEC ?? '0');
  t.true(usec >= hupAt && usec <= afterReload, `${usec} within [${hupAt}, ${afterReload}]`);

  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  await until('STOPPING=1 arrives', () => sock.fields().some((f) => f.STOPPING === '1'));
  t.deepEqual(steps(sock.fields()), [
    'READY+MAINPID+STATUS',
    'RELOADING+MONOTONIC_USEC+STATUS',
    'READY+STATUS',
    'STOPPING+STATUS',
  ]);
  t.is(sock.fields().filter((f) => f.WATCHDOG).length, 0, 'no WATCHDOG_USEC, no pings');
});

test('a refused reload (a broken config file) still answers RELOADING=1 with READY=1, and says why in STATUS', async (t) => {
  const dir = tempDir(t, 'notify-refused');
  const sock = await openNotifySocket(join(dir, 'notify.sock'));
  t.teardown(() => sock.close());
  const { writeFileSync, copyFileSync } = await import('node:fs');
  copyFileSync(join(ROOT, 'test/fixtures/slow.js'), join(dir, 'app.js'));
  writeFileSync(join(dir, 'gsup.config.json'), '{"workers": 1}\n');
  const g = gsup(t, ['start', 'app.js', '-b', '127.0.0.1:0', '--no-tui'], {
    cwd: dir,
    env: { NOTIFY_SOCKET: sock.address },
  });
  await until('READY=1 arrives', () => sock.fields().some((f) => f.READY === '1'));
  writeFileSync(join(dir, 'gsup.config.json'), '{"workers": "many"}\n');
  g.child.kill('SIGHUP');
  await g.waitForEvent('reload-end', (e) => e.outcome === 'refused');
  await until('READY=1 after the refused reload', () => steps(sock.fields()).length >= 3);
  t.deepEqual(steps(sock.fields()), [
    'READY+MAINPID+STATUS',
    'RELOADING+MONOTONIC_USEC+STATUS',
    'READY+STATUS',
  ]);
  t.regex(sock.fields().at(-1)?.STATUS ?? '', /last reload: reload not done: .*workers/);
});

test('an abstract @name socket gets WATCHDOG=1 pings while WATCHDOG_PID is gsup; none for another pid', async (t) => {
  const name = `@gsup-test-${process.pid}-${Date.now()}`;
  const sock = await openNotifySocket(name);
  t.teardown(() => sock.close());
  // systemd sets WATCHDOG_PID to the main pid: the shell sets it to its own, then execs gsup.
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    env: { NOTIFY_SOCKET: name, WATCHDOG_USEC: '200000' },
    shell: 'WATCHDOG_PID=$$ exec "$0" "$@"',
  });
  await until('READY=1 arrives', () => sock.fields().some((f) => f.READY === '1'));
  await until(
    'five WATCHDOG=1 pings',
    () => sock.fields().filter((f) => f.WATCHDOG === '1').length >= 5,
  );
  t.true(sock.fields().some((f) => f.READY === '1' && f.MAINPID === String(g.pid)));

  const other = `@gsup-test-other-${process.pid}-${Date.now()}`;
  const sock2 = await openNotifySocket(other);
  t.teardown(() => sock2.close());
  const g2 = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    env: { NOTIFY_SOCKET: other, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' },
  });
  await until('READY=1 arrives', () => sock2.fields().some((f) => f.READY === '1'));
  // Pings at 100 ms would have come by now; the first is sent at once when they are on.
  g2.child.kill('SIGTERM');
  t.is(await g2.exited, 0);
  await until('STOPPING=1 arrives', () => sock2.fields().some((f) => f.STOPPING === '1'));
  t.is(sock2.fields().filter((f) => f.WATCHDOG).length, 0);
});

test('workers do not inherit NOTIFY_SOCKET or the watchdog: only gsup speaks to systemd', async (t) => {
  const dir = tempDir(t, 'notify-env');
  const sock = await openNotifySocket(join(dir, 'notify.sock'));
  t.teardown(() => sock.close());
  const g = gsup(t, ['start', 'env-echo.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    env: { NOTIFY_SOCKET: sock.address, WATCHDOG_USEC: '30000000', MARKER: 'seen' },
  });
  await g.waitForEvent('pool-ready');
  const url = await g.url();
  const seen = async (name: string) =>
    (JSON.parse((await get(`${url}/?name=${name}`)).body) as { value: string | null }).value;
  t.is(await seen('MARKER'), 'seen', 'the fixture reads the environment');
  t.is(await seen('NOTIFY_SOCKET'), null);
  t.is(await seen('WATCHDOG_USEC'), null);
});

test('under systemd-socket-activate: the inherited socket serves and READY=1 names the activated pid', async (t) => {
  const dir = tempDir(t, 'notify-activate');
  const sock = await openNotifySocket(join(dir, 'notify.sock'));
  t.teardown(() => sock.close());
  const port = await freePort();
  // systemd-socket-activate binds, sets LISTEN_FDS/LISTEN_PID and execs gsup in its own pid.
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '--no-tui'], {
    env: { NOTIFY_SOCKET: sock.address },
    shell: `exec systemd-socket-activate -l 127.0.0.1:${port} -E NOTIFY_SOCKET "$0" "$@"`,
  });
  // It starts gsup on the first connection, which waits in the queue until a worker is ready.
  await until('systemd-socket-activate listens', () => someoneListensOn(port));
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200);
  await until('READY=1 arrives', () => sock.fields().some((f) => f.READY === '1'));
  t.is(sock.fields().find((f) => f.READY === '1')?.MAINPID, String(g.pid));
});

test('without its native helper gsup still serves, and says in one line how to get notification back', async (t) => {
  // A copy of the built package with no build/ folder: what an install without a compiler has.
  const dir = tempDir(t, 'no-native');
  for (const part of ['bin', 'dist', 'package.json'])
    cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'run'));
  const sock = await openNotifySocket(join(dir, 'notify.sock'));
  t.teardown(() => sock.close());
  const [file, args] = dieWithTest(process.execPath, [
    join(dir, 'bin/gsup.js'),
    'start',
    '--log-format',
    'json',
    join(ROOT, 'test/fixtures/slow.js'),
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ]);
  const child = spawn(file, args, {
    cwd: dir,
    env: { ...process.env, NOTIFY_SOCKET: sock.address, XDG_RUNTIME_DIR: join(dir, 'run') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const events = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) => JSON.parse(l) as { kind?: string; type?: string; message?: string; level?: string },
      );
  await until('the pool is ready', () => events().some((e) => (e.type ?? e.kind) === 'pool-ready'));
  const warnings = events().filter((e) => e.level === 'warn');
  t.is(warnings.length, 1, JSON.stringify(warnings));
  t.regex(
    warnings[0]?.message ?? '',
    /NOTIFY_SOCKET is set but gsup cannot notify systemd: .*npm rebuild gsup/,
  );
  t.false((warnings[0]?.message ?? '').includes('\n'));
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  t.deepEqual(sock.messages, []);
});

// ---- the pure parts, without processes ------------------------------------------------------

test('notify messages, the watchdog interval and the STATUS line, as pure functions', (t) => {
  t.is(
    formatMessage({ READY: 1, MAINPID: 42, STATUS: 'a\nb' }),
    'READY=1\nMAINPID=42\nSTATUS=a b\n',
  );
  t.deepEqual(notifyAddress({ NOTIFY_SOCKET: '/run/systemd/notify' }), {
    address: '/run/systemd/notify',
  });
  t.deepEqual(notifyAddress({ NOTIFY_SOCKET: '@abstract' }), { address: '@abstract' });
  t.is(notifyAddress({}), null);
  t.regex(
    (notifyAddress({ NOTIFY_SOCKET: 'relative' }) as { error: string }).error,
    /NOTIFY_SOCKET=relative is not/,
  );
  t.deepEqual(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 7), { ms: 15000 });
  t.deepEqual(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7), { ms: 15000 });
  t.is(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7), null);
  t.is(watchdogInterval({}, 7), null);
  t.regex(
    (watchdogInterval({ WATCHDOG_USEC: '30s' }, 7) as { error: string }).error,
    /WATCHDOG_USEC=30s/,
  );
  const snap = {
    ready: 4,
    target: 4,
    state: 'running',
    reload: null,
    totals: { rps: 1234.4 },
  } as unknown as PoolSnapshot;
  t.is(statusLine(snap), '4/4 workers ready, 1234 req/s');
  t.is(
    statusLine({
      ...snap,
      state: 'reloading',
      reload: { newReady: 1, oldLeft: 3, oldTotal: 4, startedAt: 0 },
    }),
    '4/4 workers ready, 1234 req/s; reloading: 1 new ready, 3 old left',
  );
});

test('the watchdog pings only while the pool step runs: a stalled tick means no WATCHDOG=1', (t) => {
  const sent: NotifyFields[] = [];
  const notifier = { address: '@x', notify: (f: NotifyFields) => sent.push(f) > 0 };
  const source = Object.assign(new EventEmitter(), {
    tickAgeMs: 100 as number | null,
    snapshot: () =>
      ({
        ready: 1,
        target: 1,
        state: 'running',
        reload: null,
        totals: { rps: 0 },
      }) as unknown as PoolSnapshot,
  });
  // The first ping is sent at once when the watchdog starts: its content shows the verdict.
  const fresh = attachSystemd(source, notifier, { watchdogMs: 60_000 });
  fresh.close();
  t.deepEqual(sent, [{ WATCHDOG: 1 }]);
  sent.length = 0;
  source.tickAgeMs = TICK_HEALTHY_MS + 1;
  const stalled = attachSystemd(source, notifier, { watchdogMs: 60_000 });
  stalled.close();
  t.deepEqual(sent, []);
  t.true(healthy(null), 'before the pool ticks, a turning loop is healthy');
});
