// `gsup start -k exec COMMAND`: any program that accepts on fd 3. Here a Python standard-library
// http.server that takes its socket from fd 3 (as systemd socket activation hands it over) and
// knows nothing of gsup: ready by --ready-pattern or after a grace, counts unknown, not zero.
import { writeFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { get, gsup, tempDir, until } from './helpers.js';

const SERVER = `import http.server, json, os, socket, sys

# sd_listen_fds(3): the sockets are for this pid, from fd 3.
if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    print("not for me: LISTEN_PID=%s LISTEN_FDS=%s" % (os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")), flush=True)
    sys.exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (json.dumps({"pid": os.getpid(), "fdnames": os.environ.get("LISTEN_FDNAMES")}) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("", 0), Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=3)
print("serving on fd 3", flush=True)
server.serve_forever()
`;

function serverDir(t: ExecutionContext): string {
  const dir = tempDir(t, 'exec');
  writeFileSync(`${dir}/server.py`, SERVER);
  return dir;
}

interface Snap {
  totals: { requests: number };
  workers: Array<{ pid: number; requests: number | null; rps: number | null; p50Ms: unknown }>;
}

test('an exec worker with --ready-pattern serves on fd 3, sees its own LISTEN_* and shows unknown counts', async (t) => {
  const dir = serverDir(t);
  const g = gsup(
    t,
    [
      'start',
      '-k',
      'exec',
      '/usr/bin/python3 -u server.py',
      '--ready-pattern',
      '^serving on fd',
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '--no-tui',
    ],
    { cwd: dir, env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  // Ready came from the pattern: the line was printed before the ready event.
  t.true(g.output.some((o) => /serving on fd 3/.test(o.line)));
  const r = await get(url);
  t.is(r.status, 200);
  const seen = JSON.parse(r.body) as { pid: number; fdnames: string };
  t.true(g.readyPids().includes(seen.pid));
  t.is(seen.fdnames, 'gsup');
  // Alive is its heartbeat: it stays ready past several heartbeat intervals, counts unknown.
  const snap = (await g.status()) as unknown as Snap;
  t.is(snap.workers.length, 2);
  for (const w of snap.workers) {
    t.is(w.requests, null);
    t.is(w.rps, null);
    t.is(w.p50Ms, null);
  }
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('an exec worker without a pattern is ready after the grace; one that exits at once is a boot failure', async (t) => {
  const dir = serverDir(t);
  const g = gsup(
    t,
    ['start', '-k', 'exec', '/usr/bin/python3 server.py', '-w', '1', '-b', '127.0.0.1:0'],
    { cwd: dir, env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  const url = await g.url();
  const ready = await g.waitForEvent('worker-ready');
  t.true(ready.bootMs >= 900, `ready after ${ready.bootMs} ms, before the grace`);
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);

  const bad = gsup(
    t,
    ['start', '-k', 'exec', '/bin/sh -c "exit 1"', '-w', '1', '-b', '127.0.0.1:0'],
    { cwd: dir },
  );
  t.is(await bad.exited, 3);
});

test('an exec worker is never timed out while it lives: alive is its heartbeat', async (t) => {
  const dir = serverDir(t);
  const g = gsup(
    t,
    [
      'start',
      '-k',
      'exec',
      '/usr/bin/python3 -u server.py',
      '--ready-pattern',
      'serving',
      '-t',
      '1',
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
    ],
    { cwd: dir, env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const [pid] = g.readyPids();
  // Three times the 1 s timeout, with no counters ever sent.
  await until('the worker has lived 3 s', async () => {
    const s = (await g.status()) as unknown as { workers: Array<{ uptimeMs: number }> };
    return (s.workers[0]?.uptimeMs ?? 0) > 3000;
  });
  t.is(g.countEvents('worker-timeout'), 0);
  t.deepEqual(g.readyPids(), [pid]);
  t.is((await get(url)).status, 200);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('bad exec and wsgi input is one line naming the problem', async (t) => {
  const dir = serverDir(t);
  const cases: Array<[string[], RegExp]> = [
    [['-k', 'exec', 'no-such-program --fd 3'], /"no-such-program" is not an executable program/],
    [['-k', 'exec', 'true', '--ready-pattern', '(['], /ready-pattern: not a regular expression/],
    [['-k', 'wsgi', 'my site.wsgi'], /a wsgi app is MODULE:VARIABLE/],
    [['-k', 'wsgi', 'mysite.wsgi', '--python', 'no-such-python'], /python: "no-such-python"/],
    [['-k', 'ruby', 'app.rb'], /worker-class.*node, wsgi or exec/],
  ];
  for (const [args, expected] of cases) {
    const g = gsup(t, ['start', ...args, '-b', '127.0.0.1:0', '--no-tui'], { cwd: dir });
    t.is(await g.exited, 2, args.join(' '));
    const text = g.stderr().trim();
    t.regex(text, expected);
    t.is(text.split('\n').length, 1, text);
  }
});
