// `gsup demo` end to end in a real terminal (tmux on its own socket): the dashboard comes up,
// the built-in load shows as requests and 5xx, /hang gets a worker killed with its stack, and
// q stops everything.
import test from 'ava';
import { get, gsupVerb, isAlive, ROOT, until } from './helpers.js';
import { tmuxAvailable, tmuxGsup } from './tmux-session.js';

/** The header's pool totals, read off the screen. */
function totals(screen: string): { requests: number; errors: number } | null {
  const m = /(\d+) requests .* 5xx (\d+)/.exec(screen);
  return m ? { requests: Number(m[1]), errors: Number(m[2]) } : null;
}

test('gsup demo serves its own load, kills a hung worker with its stack, and q stops it', async (t) => {
  if (!tmuxAvailable(t)) return;
  const session = tmuxGsup(t, {
    name: 'demo',
    cwd: ROOT,
    args: ['demo', '-w', '2'],
    cols: 120,
    rows: 40,
  });
  const { tmux, waitScreen } = session;
  // The control socket (named demo) lives in the session's own runtime dir.
  const env = { XDG_RUNTIME_DIR: session.runtimeDir };

  const first = await waitScreen('2 ready workers', (s) => /workers 2\/2 ready/.test(s));
  session.gsupPid = Number(/gsup \S+ \(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(session.gsupPid > 0, 'the header shows the supervisor pid');
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
  session.workerPids = snap.workers.map((w) => w.pid);

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
  session.workerPids.push(...(JSON.parse(again.stdout) as typeof snap).workers.map((w) => w.pid));

  tmux('send-keys', '-t', 'main', 'q');
  const after = await waitScreen('gsup exited', (s) => /gsup exit code \d+/.test(s));
  t.regex(after, /gsup stopped \(exit 0\)/);
  t.regex(after, /gsup exit code 0/);
  await until('the supervisor is gone', () => !isAlive(session.gsupPid));
  for (const pid of session.workerPids) t.false(isAlive(pid), `worker ${pid} is gone`);
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
