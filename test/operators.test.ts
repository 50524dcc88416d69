// The operators' verbs (issue 12, item 7): `gsup ls` lists the instances running for this user by
// asking every socket in the control directory; `gsup logs` prints an instance's recent events
// and worker output, and with -f follows until it stops; a verb that finds no instance by its
// name lists the ones running. Real instances, real sockets.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  BIN,
  dieWithTest,
  FIXTURES,
  get,
  gsup,
  gsupVerb,
  isAlive,
  tempDir,
  until,
} from './helpers.js';

/** An instance named `name` in `runtimeDir`, with `workers` ready. */
async function instance(
  t: ExecutionContext,
  runtimeDir: string,
  name: string,
  app = 'slow.js',
  workers = 1,
) {
  const g = gsup(
    t,
    ['start', app, '-w', String(workers), '-b', '127.0.0.1:0', '--no-tui', '--name', name],
    { env: { XDG_RUNTIME_DIR: runtimeDir } },
  );
  await g.waitForEvent('pool-ready', (e) => e.workers === workers);
  return g;
}

/** A socket file nobody answers on: its server was SIGKILLed, so the file stayed. */
async function staleSocket(t: ExecutionContext, path: string): Promise<void> {
  const [file, args] = dieWithTest(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.stdout?.once('data', resolve));
  child.kill('SIGKILL');
  await until('the dead server is gone', () => !isAlive(child.pid ?? 0));
  t.true(existsSync(path));
}

test('gsup ls with nothing running says none running', async (t) => {
  const runtimeDir = tempDir(t, 'run');
  const r = await gsupVerb(['ls'], { XDG_RUNTIME_DIR: runtimeDir });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^gsup: none running/);
  const json = await gsupVerb(['ls', '--json'], { XDG_RUNTIME_DIR: runtimeDir });
  t.deepEqual(JSON.parse(json.stdout), []);
});

test('gsup ls lists each running instance, and passes over stale sockets and other files', async (t) => {
  const runtimeDir = tempDir(t, 'run');
  const a = await instance(t, runtimeDir, 'alpha', 'slow.js', 2);
  const b = await instance(t, runtimeDir, 'beta', 'chatty.js', 1);
  const dir = join(runtimeDir, 'gsup');
  await staleSocket(t, join(dir, 'gone.sock'));
  writeFileSync(join(dir, 'notes.sock'), 'not a socket');
  mkdirSync(join(dir, 'folder.sock'));

  const r = await gsupVerb(['ls', '--json'], { XDG_RUNTIME_DIR: runtimeDir });
  t.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  t.deepEqual(
    rows.map((row) => [row.name, row.pid, row.app, row.ready, row.wanted, row.control]),
    [
      ['alpha', a.pid, 'slow.js', 2, 2, join(dir, 'alpha.sock')],
      ['beta', b.pid, 'chatty.js', 1, 1, join(dir, 'beta.sock')],
    ],
  );
  for (const row of rows) t.true(typeof row.uptimeMs === 'number' && row.uptimeMs >= 0);

  const text = await gsupVerb(['ls'], { XDG_RUNTIME_DIR: runtimeDir });
  const lines = text.stdout.trim().split('\n');
  t.regex(lines[0] ?? '', /^NAME\s+PID\s+APP\s+WORKERS\s+UPTIME\s+LISTENING\s+CONTROL$/);
  t.is(lines.length, 3, text.stdout);
  t.regex(
    lines[1] ?? '',
    new RegExp(`^alpha\\s+${a.pid}\\s+slow\\.js\\s+2/2\\s+\\d+s\\s+http://127`),
  );
  t.true(lines[1]?.endsWith(join(dir, 'alpha.sock')));
  t.regex(lines[2] ?? '', new RegExp(`^beta\\s+${b.pid}\\s+chatty\\.js\\s+1/1\\s`));
});

test('a verb that finds no instance by its name lists the ones running', async (t) => {
  const runtimeDir = tempDir(t, 'run');
  await instance(t, runtimeDir, 'demo');
  const r = await gsupVerb(['status'], { XDG_RUNTIME_DIR: runtimeDir });
  t.is(r.code, 1);
  t.is(
    r.stderr,
    `gsup: no gsup named "default" is running (no control socket at ${join(runtimeDir, 'gsup', 'default.sock')}); running: demo; pass --name demo (gsup ls lists them)\n`,
  );
  // With none running, the message says how to start one instead.
  const none = await gsupVerb(['reload', '--name', 'x'], { XDG_RUNTIME_DIR: tempDir(t, 'run') });
  t.is(none.code, 1);
  t.regex(none.stderr, /no gsup named "x" is running .*; start one with gsup start/);
});

test('gsup logs prints the recent events and worker output in time order', async (t) => {
  const runtimeDir = tempDir(t, 'run');
  const g = await instance(t, runtimeDir, 'web', 'chatty.js');
  await get(`${await g.url()}/first`);
  await get(`${await g.url()}/second`);
  const env = { XDG_RUNTIME_DIR: runtimeDir };
  // The worker's lines reach the supervisor a moment after the replies.
  await g.waitFor(/warning about \/second/);
  const r = await gsupVerb(['logs', '--name', 'web'], env);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  t.true(at(/\[gsup\] INFO {2}listening at http:/) >= 0, r.stdout);
  t.true(at(/\[gsup\] INFO {2}all 1 workers ready/) > at(/listening at/));
  t.true(at(/\[w1 \d+\] handling \/first$/) > at(/all 1 workers ready/), r.stdout);
  t.true(at(/\[w1 \d+ err\] warning about \/first$/) > 0);
  t.true(at(/\[w1 \d+\] handling \/second$/) > at(/handling \/first/));

  const json = await gsupVerb(['logs', '--name', 'web', '--json'], env);
  const objects = json.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; line?: string; time: string });
  t.true(objects.some((o) => o.type === 'worker-ready'));
  t.true(objects.some((o) => o.type === 'output' && o.line === 'handling /second'));
  const times = objects.map((o) => Date.parse(o.time));
  t.deepEqual(
    times,
    [...times].sort((x, y) => x - y),
    'in time order',
  );
});

test('gsup logs -f follows new events and output until the instance stops', async (t) => {
  const runtimeDir = tempDir(t, 'run');
  const g = await instance(t, runtimeDir, 'web', 'chatty.js');
  const [file, args] = dieWithTest(process.execPath, [BIN, 'logs', '-f', '--name', 'web']);
  const follower = spawn(file, args, {
    cwd: FIXTURES,
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => follower.kill('SIGKILL'));
  let out = '';
  let err = '';
  follower.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  follower.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
  await until('the history is printed', () => out.includes('all 1 workers ready'));
  await get(`${await g.url()}/live`);
  await until('a live line of worker output arrives', () => /handling \/live/.test(out));
  const scale = await gsupVerb(['scale', '+1', '--name', 'web'], {
    XDG_RUNTIME_DIR: runtimeDir,
  });
  t.is(scale.code, 0, scale.stderr);
  await until('a live event arrives', () => /scaling from 1 to 2 workers/.test(out));
  g.child.kill('SIGTERM');
  t.is(await exited, 0, err);
  t.regex(out, /stopped$/m);
  t.is(err, 'gsup: logs: the instance stopped\n');
});
