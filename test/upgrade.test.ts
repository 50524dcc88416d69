// Issue 12, item 6: upgrading gsup itself without dropping a connection (USR2, `gsup upgrade`).
// The real CLI re-executes itself: the new supervisor shares the old one's stdout, so its JSON
// events arrive in the same harness view; the old one is the harness's child, the new one is not
// (it must outlive the old), so each test kills it at teardown by the pid its upgrade-start names.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Supervisor } from '../dist/index.js';
import {
  FIXTURES,
  type Gsup,
  get,
  getUnix,
  gsup,
  gsupVerb,
  isAlive,
  load,
  oldExit,
  poolOptions,
  tempDir,
  until,
  upgradeStarted,
} from './helpers.js';
import { tmuxAvailable, tmuxGsup } from './tmux-session.js';

/** `gsup status --json` of the instance the harness started (whichever pid answers it now). */
async function statusPid(g: Gsup): Promise<number> {
  const r = await gsupVerb(['status', '--json'], { XDG_RUNTIME_DIR: g.runtimeDir });
  if (r.code !== 0) throw new Error(`gsup status failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/** The files in the instance's control socket directory. */
function controlFiles(g: Gsup): string[] {
  const dir = join(g.runtimeDir, 'gsup');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The pid a fixture's answer names (`ok 123` / `done 123`). */
function answeredBy(body: string): number {
  return Number(/(\d+)\s*$/.exec(body)?.[1] ?? Number.NaN);
}

test('USR2 under keep-alive load: a new gsup takes over with zero failed requests, the old one drains and exits 0', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const oldPid = g.pid;
  const oldWorkers = g.readyPids();
  const exited = oldExit(g);
  const traffic = load(url, 8);
  t.teardown(async () => void (await traffic.stop()));
  await until('the load flows', () => traffic.ok() > 100);

  g.child.kill('SIGUSR2');
  const started = await upgradeStarted(t, g);
  t.not(started.newPid, oldPid);
  t.is(started.sockets, 1);
  const done = await g.waitForEvent('upgrade-done');
  t.deepEqual([done.oldPid, done.newPid], [oldPid, started.newPid]);
  const tookOver = await g.waitForEvent('upgrade-took-over');
  t.is(tookOver.newPid, started.newPid);
  t.is(await exited, 0);
  // The old supervisor and its workers are gone; the new one's workers serve the same socket.
  t.false(isAlive(oldPid));
  for (const pid of oldWorkers) t.false(isAlive(pid), `old worker ${pid}`);
  const newWorkers = g.readyPids();
  t.is(newWorkers.length, 2);
  t.true(newWorkers.every((pid) => !oldWorkers.includes(pid)));
  const servedBefore = traffic.ok();
  await until('the new workers carry the load', () => traffic.ok() > servedBefore + 100);
  const result = await traffic.stop();
  t.is(result.failed, 0, `failed requests: ${result.errors.slice(0, 5).join('; ')}`);
  t.log(`${result.ok} requests over keep-alive connections, ${result.failed} failed`);
  t.true(newWorkers.includes(answeredBy((await get(url)).body)));
  // `gsup status` answers from the new pid, on the one control socket.
  t.is(await statusPid(g), started.newPid);
  t.deepEqual(controlFiles(g), ['default.sock']);

  // The new supervisor stops like any other, and takes its socket file with it.
  process.kill(started.newPid, 'SIGTERM');
  await until('the new gsup exits', () => !isAlive(started.newPid));
  for (const pid of newWorkers) t.false(isAlive(pid), `new worker ${pid}`);
  t.deepEqual(controlFiles(g), []);
});

test('a failing upgrade (the app throws at import for the new gsup only) leaves the old one serving with its workers, and the new one gone', async (t) => {
  const dir = tempDir(t, 'upgrade');
  const flag = join(dir, 'broken');
  const g = gsup(
    t,
    ['start', 'broken-by-flag-file.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui'],
    {
      env: { BROKEN_FLAG: flag },
    },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const oldWorkers = g.readyPids().sort();
  // From now on the app throws at import: only a new gsup's workers load it.
  writeFileSync(flag, 'broken\n');

  const reply = await gsupVerb(['upgrade'], { XDG_RUNTIME_DIR: g.runtimeDir });
  const started = await upgradeStarted(t, g);
  const failed = await g.waitForEvent('upgrade-failed');
  t.is(failed.newPid, started.newPid);
  t.is(failed.oldPid, g.pid);
  t.regex(failed.reason, /could not boot: .*the flag file says this deploy is broken/);
  // The verb waited for the outcome and said it in one line.
  t.is(reply.code, 1);
  t.regex(reply.stderr, /^gsup: upgrade failed: .*keeps serving with its workers\n$/);

  // The new supervisor and every worker it started are gone; nothing of it is left.
  t.false(isAlive(started.newPid));
  const newWorkers = g.allPids().filter((pid) => !oldWorkers.includes(pid));
  t.true(newWorkers.length > 0);
  for (const pid of newWorkers) t.false(isAlive(pid), `new worker ${pid}`);
  t.deepEqual(controlFiles(g), ['default.sock']);
  // The old one serves on, with the same workers, and answers `gsup status`.
  t.deepEqual(g.readyPids().sort(), oldWorkers);
  t.true(oldWorkers.includes(answeredBy((await get(url)).body)));
  t.is(await statusPid(g), g.pid);
  t.is(g.countEvents('upgrade-done'), 0);

  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.deepEqual(controlFiles(g), []);
});

test('while an upgrade runs, another upgrade, a reload and scaling are refused in one line; the old workers serve until the new ones are ready', async (t) => {
  const dir = tempDir(t, 'upgrade');
  const gate = join(dir, 'gate');
  writeFileSync(gate, 'open\n');
  const g = gsup(
    t,
    ['start', 'boots-when-gate-opens.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui'],
    {
      env: { GATE_FILE: gate },
    },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const oldWorkers = g.readyPids();
  // The new gsup's workers wait at the closed gate: the upgrade is held open.
  rmSync(gate);
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const upgrading = gsupVerb(['upgrade'], env);
  const started = await upgradeStarted(t, g);
  await g.waitForEvent('worker-spawn', (e) => !oldWorkers.includes(e.pid));

  g.child.kill('SIGUSR2');
  const refused = await g.waitForEvent('upgrade-refused');
  t.is(refused.level, 'warn');
  t.regex(
    refused.reason,
    new RegExp(`an upgrade of gsup is running \\(new gsup pid ${started.newPid}\\)`),
  );
  const again = await gsupVerb(['upgrade'], env);
  t.is(again.code, 1);
  t.regex(again.stderr, /^gsup: upgrade refused: an upgrade of gsup is running .*\n$/);
  const reload = await gsupVerb(['reload'], env);
  t.is(reload.code, 1);
  t.regex(reload.stderr, /^gsup: not reloading: an upgrade of gsup is running .*\n$/);
  const scale = await gsupVerb(['scale', '+1'], env);
  t.is(scale.code, 1);
  t.regex(scale.stderr, /^gsup: scale: an upgrade of gsup is running .*\n$/);
  // Meanwhile the old workers serve.
  t.true(oldWorkers.includes(answeredBy((await get(url)).body)));
  t.is(await statusPid(g), g.pid);

  writeFileSync(gate, 'open\n');
  const reply = await upgrading;
  t.is(reply.code, 0, reply.stderr);
  t.regex(
    reply.stdout,
    new RegExp(`upgrade done in .*the new gsup \\(pid ${started.newPid}\\) serves`),
  );
  t.is(await oldExit(g), 0);
  t.is(await statusPid(g), started.newPid);
  process.kill(started.newPid, 'SIGTERM');
  await until('the new gsup exits', () => !isAlive(started.newPid));
});

test('if the old gsup dies before handing over, the new one stops: no half-started gsup, worker or staged socket is left', async (t) => {
  const dir = tempDir(t, 'upgrade');
  const gate = join(dir, 'gate');
  writeFileSync(gate, 'open\n');
  const g = gsup(
    t,
    ['start', 'boots-when-gate-opens.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'],
    {
      env: { GATE_FILE: gate },
    },
  );
  await g.waitForEvent('pool-ready');
  const oldWorkers = g.readyPids();
  rmSync(gate);
  g.child.kill('SIGUSR2');
  const started = await upgradeStarted(t, g);
  const spawned = await g.waitForEvent('worker-spawn', (e) => !oldWorkers.includes(e.pid));
  await until('the new gsup stages its control socket', () =>
    controlFiles(g).includes('default.sock.new'),
  );
  g.child.kill('SIGKILL');
  const warned = await g.waitForEvent('warning', (e) =>
    /went away before handing over/.test(e.text),
  );
  t.regex(warned.text, new RegExp(`the old gsup \\(pid ${g.pid}\\)`));
  await until('the new gsup stops', () => !isAlive(started.newPid));
  await until('its worker is gone', () => !isAlive(spawned.pid));
  t.false(controlFiles(g).includes('default.sock.new'));
});

test('an upgrade keeps a worker count set at run time, and a unix socket keeps its file through the handover', async (t) => {
  const dir = tempDir(t, 'upgrade');
  const path = join(dir, 'app.sock');
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', `unix:${path}`, '--no-tui']);
  await g.waitForEvent('pool-ready');
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  t.is((await gsupVerb(['scale', '3'], env)).code, 0);
  await until('three workers are ready', () => g.readyPids().length === 3);
  const r = await gsupVerb(['upgrade'], env);
  t.is(r.code, 0, r.stderr);
  const started = await upgradeStarted(t, g);
  t.is(await oldExit(g), 0);
  t.is(g.readyPids().length, 3);
  t.true(existsSync(path), 'the socket file stays for the new gsup');
  t.regex((await getUnix(path)).body, /^done \d+\n$/);
  process.kill(started.newPid, 'SIGTERM');
  await until('the new gsup exits', () => !isAlive(started.newPid));
  t.false(existsSync(path), 'the last gsup removes the socket file');
});

test('a garbled GSUP_UPGRADE is refused in one line naming it', async (t) => {
  const r = await gsupVerb(['start', 'slow.js', '-b', '127.0.0.1:0', '--no-tui'], {
    GSUP_UPGRADE: 'not json',
    XDG_RUNTIME_DIR: tempDir(t, 'run'),
  });
  t.is(r.code, 2);
  t.regex(
    r.stderr,
    /^gsup: GSUP_UPGRADE: expected what an upgrading gsup sets, got "not json"; unset it\n$/,
  );
});

test('with the terminal dashboard on, USR2 and gsup upgrade are refused in one line and the dashboard keeps drawing', async (t) => {
  if (!tmuxAvailable(t)) return;
  const session = tmuxGsup(t, {
    name: 'upgrade-tui',
    cwd: FIXTURES,
    args: ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0'],
    cols: 150,
    rows: 30,
  });
  const first = await session.waitScreen('1 ready worker on screen', /workers 1\/1 ready/);
  session.gsupPid = Number(/gsup \S+ \(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(session.gsupPid > 0);
  const r = await gsupVerb(['upgrade'], { XDG_RUNTIME_DIR: session.runtimeDir });
  t.is(r.code, 1);
  t.regex(r.stderr, /^gsup: upgrade refused: the terminal dashboard is on.*run gsup headless.*\n$/);
  process.kill(session.gsupPid, 'SIGUSR2');
  const screen = await session.waitScreen(
    'the second refusal in the dashboard log',
    (s) => (s.match(/upgrade refused: the terminal dashboard is on/g) ?? []).length === 2,
  );
  t.notRegex(screen, /upgrade: started/);
  t.regex(screen, /workers 1\/1 ready/);
  session.tmux('send-keys', '-t', 'main', 'q');
  const after = await session.waitScreen('gsup exited', /gsup exit code \d+/);
  t.regex(after, /gsup exit code 0/);
});

test('the programmatic API has no command line to re-execute: upgrade() is refused in one line, the pool runs on', async (t) => {
  const sup = new Supervisor(poolOptions({ workers: 1 }));
  t.teardown(() => sup.stop({ quick: true }));
  const events: string[] = [];
  sup.on('event', (e) => events.push(e.type));
  await sup.start();
  const r = await sup.upgrade();
  t.false(r.ok);
  t.is(r.newPid, null);
  t.regex(r.message, /^upgrade refused: this pool was not started by the gsup command/);
  t.true(events.includes('upgrade-refused'));
  t.false(events.includes('upgrade-start'));
  await until('the worker is ready', () => sup.snapshot().ready === 1);
  t.is(await sup.stop(), 0);
});

/** True when this machine lets us start a process as PID 1 of a new PID namespace. */
function canUnshare(t: ExecutionContext): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) t.fail('unshare --pid --fork --mount-proc does not run here');
    else {
      t.log('skipped: unshare --pid --fork --mount-proc does not run here (needs root)');
      t.pass();
    }
    return false;
  }
}

test('as PID 1 (a container without an init) an upgrade is refused in one line: its exit would end the container', async (t) => {
  if (!canUnshare(t)) return;
  const g = gsup(t, ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    shell: 'exec unshare --pid --fork --mount-proc "$0" "$@"',
  });
  await g.waitForEvent('pool-ready');
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const r = await gsupVerb(['upgrade'], env);
  t.is(r.code, 1);
  t.regex(r.stderr, /^gsup: upgrade refused: gsup is PID 1 \(a container's init\).*\n$/);
  t.is(g.countEvents('upgrade-start'), 0);
  t.is((await gsupVerb(['stop'], env)).code, 0);
  t.is(await g.exited, 0);
});
