// Front-door behaviour of `gsup start` that only the real CLI shows: signals, log files, flags.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { get, gsup, isAlive, killQuietly, tempDir, until } from './helpers.js';

test('SIGINT is a quick stop: workers exit at once, gsup exits 0', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const pids = g.readyPids();
  g.child.kill('SIGINT');
  await g.waitFor(/quick stop/);
  t.is(await g.exited, 0);
  t.is(g.count(/exited \(code 0\) on quick stop/), 2);
  for (const pid of pids) await until(`worker ${pid} is gone`, () => !isAlive(pid));
});

test('--log-file writes the log there; SIGUSR1 reopens it after a rotation', async (t) => {
  const dir = tempDir(t, 'log');
  const log = `${dir}/gsup.log`;
  const g = gsup(
    t,
    ['start', 'chatty.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui', '--log-file', log],
    // Text format: this test reads the log file as a person would.
    { format: 'text' },
  );
  await until(
    'the log file shows the pool ready',
    () => existsSync(log) && readFileSync(log, 'utf8').includes('all 1 workers ready'),
  );
  const url = /listening at (\S+)/.exec(readFileSync(log, 'utf8'))?.[1] ?? '';
  t.regex(url, /^http:/);
  t.is(g.stdout(), '', 'nothing on stdout when logging to a file');
  renameSync(log, `${log}.1`);
  g.child.kill('SIGUSR1');
  await until(
    'a new log file appears',
    () => existsSync(log) && readFileSync(log, 'utf8').includes('reopened log file'),
  );
  await get(`${url}/after-rotation`);
  await until('worker output lands in the new file', () =>
    readFileSync(log, 'utf8').includes('handling /after-rotation'),
  );
  t.false(readFileSync(`${log}.1`, 'utf8').includes('after-rotation'));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('--node-arg reaches the workers', async (t) => {
  const g = gsup(t, [
    'start',
    'execargv.js',
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--node-arg=--max-old-space-size=123',
    '--node-arg',
    '--no-warnings',
  ]);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const argv = JSON.parse((await get(url)).body) as string[];
  t.true(argv.includes('--max-old-space-size=123'));
  t.true(argv.includes('--no-warnings'));
  t.true(argv.includes('--trace-sigint'), 'gsup always adds --trace-sigint');
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('a slot whose worker keeps failing to boot backs off exponentially and recovers', async (t) => {
  const dir = tempDir(t, 'flap');
  const flag = `${dir}/broken`;
  const g = gsup(
    t,
    ['start', 'broken-by-flag-file.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'],
    {
      env: { BROKEN_FLAG: flag },
    },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  writeFileSync(flag, '');
  const [pid] = g.readyPids();
  killQuietly(pid ?? -1, 'SIGKILL');
  await g.waitFor(/failed to boot: .*the flag file says this deploy is broken.*retrying in 0\.1s/);
  await g.waitFor(/failed to boot again \(same error\); retrying in 0\.2s/);
  await g.waitFor(/failed to boot again \(same error\); retrying in 0\.4s/);
  t.is(
    g.count(/the flag file says this deploy is broken/) <= 3,
    true,
    'the error is not repeated for every try',
  );
  // Once a worker has served, gsup keeps trying instead of exiting 3.
  t.is(g.child.exitCode, null);
  const { unlinkSync } = await import('node:fs');
  unlinkSync(flag);
  await until('the slot recovers', () => g.readyPids().length === 1);
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});
