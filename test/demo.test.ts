// `gsup demo` end to end in a real terminal (tmux on its own socket): the dashboard comes up,
// the built-in load shows as requests and 5xx, /hang gets a worker killed with its stack, and
// q stops everything.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { get, gsupVerb, isAlive, killQuietly, ROOT, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The header's pool totals, read off the screen. */
function totals(screen: string): { requests: number; errors: number } | null {
  const m = /(\d+) requests .* 5xx (\d+)/.exec(screen);
  return m ? { requests: Number(m[1]), errors: Number(m[2]) } : null;
}

test('gsup demo serves its own load, kills a hung worker with its stack, and q stops it', async (t) => {
  if (!hasTmux()) {
    // CI installs tmux (.ci/run); elsewhere say how, and still fail under CI.
    if (process.env.CI) t.fail('tmux is not installed: apt-get install tmux');
    else t.log('skipped: tmux is not installed (apt-get install tmux)');
    if (!process.env.CI) t.pass();
    return;
  }
  const socket = `gsup-demo-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'main');
  // Its own runtime dir, so its control socket (named demo) meets no other gsup's.
  const runtimeDir = mkdtempSync(`${tmpdir()}/gsup-demo-`);
  const env = { XDG_RUNTIME_DIR: runtimeDir };
  const shell = `cd '${ROOT}' && XDG_RUNTIME_DIR='${runtimeDir}' NCURSES_NO_UTF8_ACS=1 '${process.execPath}' '${BIN}' demo -w 2; echo "gsup exit code $?"; exec sleep 600`;
  tmux('new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', shell);
  let gsupPid = 0;
  let workerPids: number[] = [];
  t.teardown(() => {
    // tmux kill-server sends SIGHUP, which gsup takes as a reload: kill gsup first.
    if (gsupPid > 0) killQuietly(gsupPid, 'SIGKILL');
    for (const pid of workerPids) killQuietly(pid, 'SIGKILL');
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    // tmux 3.3 leaves its socket file behind after kill-server.
    const tmuxDir = `${process.env.TMUX_TMPDIR ?? '/tmp'}/tmux-${process.getuid?.() ?? 0}`;
    rmSync(`${tmuxDir}/${socket}`, { force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  const waitScreen = async (what: string, cond: (s: string) => boolean) => {
    try {
      await until(what, () => cond(screen()));
    } catch (err) {
      throw new Error(`${(err as Error).message}\nscreen:\n${screen()}`);
    }
    return screen();
  };

  const first = await waitScreen('2 ready workers', (s) => /workers 2\/2 ready/.test(s));
  gsupPid = Number(/gsup \S+ \(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(gsupPid > 0, 'the header shows the supervisor pid');
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(first)?.[1] ?? '';
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the header shows the loopback address');
  t.regex(first, /examples\/demo\.js/);

  // Nobody but the demo's own load generator sends requests until now.
  const busy = await waitScreen('the load shows as requests and 5xx', (s) => {
    const n = totals(s);
    return n !== null && n.requests >= 30 && n.errors >= 1;
  });
  t.regex(busy, /\[w1 \d+\] demo: curl http:\/\/127\.0\.0\.1:\d+\/hang/, 'the hint names the URL');

  // The control socket sees the same traffic, under the demo's name.
  const status = await gsupVerb(['status', '--name', 'demo', '--json'], env);
  t.is(status.code, 0, status.stderr);
  const snap = JSON.parse(status.stdout) as {
    totals: { requests: number };
    workers: Array<{ pid: number }>;
  };
  t.true(snap.totals.requests >= 30);
  workerPids = snap.workers.map((w) => w.pid);

  // /hang spins a worker: the timeout (5 s in the demo) kills it and the log shows where.
  const hung = await get(`${url}/hang`).then(
    (r) => `answered ${r.status}`,
    (e: Error) => e.message,
  );
  t.notRegex(hung, /^answered/, 'the hung request is cut when its worker is killed');
  const killed = await waitScreen('the timeout kill with its stack', (s) =>
    /killed after timeout/.test(s),
  );
  t.regex(killed, /spinForeverOnPurpose/);
  await waitScreen('the pool back to 2 ready', (s) => /workers 2\/2 ready/.test(s));
  const again = await gsupVerb(['status', '--name', 'demo', '--json'], env);
  workerPids.push(...(JSON.parse(again.stdout) as typeof snap).workers.map((w) => w.pid));

  tmux('send-keys', '-t', 'main', 'q');
  const after = await waitScreen('gsup exited', (s) => /gsup exit code \d+/.test(s));
  t.regex(after, /gsup stopped \(exit 0\)/);
  t.regex(after, /gsup exit code 0/);
  await until('the supervisor is gone', () => !isAlive(gsupPid));
  for (const pid of workerPids) t.false(isAlive(pid), `worker ${pid} is gone`);
});

test('gsup demo names its own mistakes', async (t) => {
  const help = await gsupVerb(['demo', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /\/hang/);
  const cases: Array<[string[], RegExp]> = [
    [['demo', '--rate', '0'], /--rate .* from 1 to 50, got "0"/],
    [['demo', '--rate', '500'], /got "500"/],
    [['demo', 'app.js'], /takes no app argument, got app\.js/],
    [['demo', '-b', '127.0.0.1:8000'], /--bind is not accepted/],
    [['demo', '-w', 'x'], /workers: .*got "x"/],
  ];
  for (const [args, message] of cases) {
    const r = await gsupVerb(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
  }
});
