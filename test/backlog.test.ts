// Issue 13, item 5: --backlog takes effect on the shared socket for its whole life (the
// supervisor's listen before any worker, each worker's own listen, a replacement's, a reload's),
// read back from the kernel with iproute2's `ss` (Send-Q of a LISTEN socket is its backlog);
// and a value above the kernel's somaxconn is reported, not silently cut.

import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import test from 'ava';
import { killQuietly } from '../harness/procfs.js';
import { FIXTURES, get, gsup, tempDir, until } from './helpers.js';

/** The listen queue length of the socket on `port`, as the kernel reports it. */
function backlogOf(port: number): number {
  const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const m = /^LISTEN\s+\d+\s+(\d+)\s/.exec(line);
  if (!m?.[1])
    throw new Error(`ss shows no LISTEN socket on port ${port}: ${JSON.stringify(line)}`);
  return Number(m[1]);
}

const SOMAXCONN = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());

test('the backlog holds from start-up through a replaced worker and a reload that changes it', async (t) => {
  const dir = tempDir(t, 'backlog');
  copyFileSync(`${FIXTURES}/slow.js`, `${dir}/slow.js`);
  const config = (backlog: number) =>
    writeFileSync(
      `${dir}/gsup.config.json`,
      JSON.stringify({ app: 'slow.js', workers: 2, bind: '127.0.0.1:0', backlog }),
    );
  // Not Node's 511 default, and not the 2048 default either: this value can only come from us.
  config(1234);
  const g = gsup(t, ['start', '--no-tui'], { cwd: dir });
  const port = Number(new URL(await g.url()).port);
  t.is(backlogOf(port), 1234, 'the supervisor listens with it before any worker');
  await g.waitForEvent('pool-ready');
  t.is(backlogOf(port), 1234, 'every worker listen(2)s again with it');

  const [victim] = g.readyPids();
  if (victim === undefined) throw new Error('no ready worker');
  const from = g.events.length;
  killQuietly(victim, 'SIGKILL');
  await g.waitForEvent('worker-ready', undefined, undefined, from);
  t.is(backlogOf(port), 1234, 'a replacement keeps it');

  config(777);
  const reloadFrom = g.events.length;
  g.child.kill('SIGHUP');
  const end = await g.waitForEvent('reload-end', undefined, undefined, reloadFrom);
  t.true(end.ok, end.message);
  t.is(backlogOf(port), 777, 'a reload that changes it applies it to the socket it keeps');
  t.is((await get(`http://127.0.0.1:${port}/`)).status, 200);
  t.is(g.countEvents('backlog-capped'), 0, 'nothing capped: no warning');
});

test('a backlog above net.core.somaxconn is capped by the kernel, and gsup says so', async (t) => {
  const asked = Math.min(65535, SOMAXCONN + 1000);
  t.true(asked > SOMAXCONN, `somaxconn ${SOMAXCONN} leaves room to ask for more`);
  const g = gsup(t, [
    'start',
    'slow.js',
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--backlog',
    String(asked),
    '--no-tui',
  ]);
  const port = Number(new URL(await g.url()).port);
  const capped = await g.waitForEvent('backlog-capped');
  t.is(capped.backlog, asked);
  t.is(capped.cap, SOMAXCONN);
  t.is(capped.level, 'warn');
  await g.waitForEvent('pool-ready');
  await until('the kernel reports the capped queue', () => backlogOf(port) === SOMAXCONN);
});
