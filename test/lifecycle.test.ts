// Signals, reloads, scaling, hangs and crashes against a real gsup under real load.
import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  get,
  gsup,
  isAlive,
  killQuietly,
  load,
  someoneListensOn,
  tempDir,
  until,
} from './helpers.js';

test('HUP under keep-alive load fails zero requests and replaces every pid', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const before = g.readyPids();
  const traffic = load(`${url}/slow?ms=2`, 8);
  await until('some requests were answered', () => traffic.ok() > 50);
  g.child.kill('SIGHUP');
  await g.waitForEvent('reload-end', (e) => e.outcome === 'done');
  const atReload = traffic.ok();
  await until('requests flow after the reload', () => traffic.ok() > atReload + 50);
  const result = await traffic.stop();
  t.deepEqual(result.errors.slice(0, 5), []);
  t.is(result.failed, 0);
  t.true(result.ok > 100);
  const after = g.readyPids();
  t.is(after.length, 2);
  for (const pid of before) {
    t.false(after.includes(pid), `old pid ${pid} still ready`);
    await until(`old worker ${pid} is gone`, () => !isAlive(pid));
  }
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('TTIN and TTOU change the live worker count; never below 1', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui']);
  await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  g.child.kill('SIGTTIN');
  await g.waitFor(/scaling from 1 to 2 workers/);
  await until('2 workers are ready', () => g.readyPids().length === 2);
  const oldest = g.readyPids()[0];
  g.child.kill('SIGTTOU');
  await g.waitFor(/scaling from 2 to 1 workers/);
  // TTOU retires the oldest worker.
  await g.waitFor(new RegExp(`worker \\d+ \\(pid ${oldest}\\) exited \\(code 0\\) after draining`));
  t.is(g.readyPids().length, 1);
  g.child.kill('SIGTTOU');
  await g.waitFor(/cannot scale to 0: the pool never goes below 1/);
  t.is(g.readyPids().length, 1);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('a worker that crashes is replaced', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const [victim] = g.readyPids();
  killQuietly(victim ?? -1, 'SIGKILL');
  await g.waitForEvent(
    'worker-exit',
    (e) => e.pid === victim && e.cause === 'crashed' && e.signal === 'SIGKILL' && !e.stopping,
  );
  await until('the pool is back to 2 ready workers', () => g.readyPids().length === 2);
  t.false(g.readyPids().includes(victim ?? -1));
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('a hung worker is killed after the timeout and the log names the stuck function', async (t) => {
  const g = gsup(t, ['start', 'hang.js', '-w', '2', '-t', '1', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  // The spinning request never gets an answer; the worker dies under it.
  get(`${url}/spin`).catch(() => undefined);
  await g.waitFor(/WORKER TIMEOUT: worker \d+ \(pid \d+\) sent no heartbeat/);
  await g.waitFor(/killed after timeout .*stuck in stuckInABusyLoop/);
  await until('the pool is back to 2 ready workers', () => g.readyPids().length === 2);
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('a reload to code that throws at import rolls back and keeps serving', async (t) => {
  const { writeFileSync } = await import('node:fs');
  const dir = tempDir(t, 'reload');
  writeFileSync(`${dir}/app.js`, "export default (req, res) => res.end('v1\\n');\n");
  const g = gsup(t, ['start', 'app.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui'], { cwd: dir });
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const before = g.readyPids();
  writeFileSync(`${dir}/app.js`, "throw new Error('broken deploy');\n");
  g.child.kill('SIGHUP');
  const end = await g.waitForEvent('reload-end', (e) => e.outcome !== 'not-started');
  t.regex(
    end.message,
    /reload rolled back: the new code failed to boot: .*broken deploy.*all on the old code/,
  );
  t.deepEqual(g.readyPids().sort(), before.sort());
  t.is((await get(url)).body, 'v1\n');

  writeFileSync(`${dir}/app.js`, "export default (req, res) => res.end('v2\\n');\n");
  g.child.kill('SIGHUP');
  await g.waitForEvent('reload-end', (e) => e.outcome === 'done');
  t.is((await get(url)).body, 'v2\n');
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('kill -9 of the supervisor leaves no worker serving and frees the port', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const pids = g.readyPids();
  g.child.kill('SIGKILL');
  await g.exited;
  for (const pid of pids) await until(`worker ${pid} exits`, () => !isAlive(pid));
  const port = Number(new URL(url).port);
  // A killed worker's main thread shows as a zombie before its other threads have released its
  // fds: wait for the listener to go, rather than read it at one instant.
  await until(`nothing listens on port ${port}`, () => !someoneListensOn(port));
  t.false(someoneListensOn(port));
});

test('a slow request in flight during TERM completes with 200', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 1);
  const slow = get(`${url}/slow?ms=1500&log=1`);
  await g.waitFor(/got \/slow\?ms=1500&log=1/);
  g.child.kill('SIGTERM');
  const r = await slow;
  t.is(r.status, 200);
  t.is(await g.exited, 0);
});

test('kill -9 of the supervisor also ends a worker whose event loop is blocked', async (t) => {
  const g = gsup(t, ['start', 'hang.js', '-w', '2', '-t', '0', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const pids = g.readyPids();
  // Block one worker's event loop: it can no longer notice the IPC channel closing.
  get(`${url}/spin`).catch(() => undefined);
  await until('one worker is spinning', () =>
    pids.some((pid) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return stat[0] === 'R' || Number(stat[11]) > 50; // running, or utime over 0.5 s
    }),
  );
  g.child.kill('SIGKILL');
  for (const pid of pids) await until(`worker ${pid} exits`, () => !isAlive(pid));
  t.deepEqual(
    pids.filter((pid) => isAlive(pid)),
    [],
  );
});
