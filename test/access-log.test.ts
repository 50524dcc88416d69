// The access log: workers write one line per request themselves, in Gunicorn's atoms or JSON;
// SIGUSR1 reopens the file after logrotate moved it; `-` writes to gsup's stdout.
import { existsSync, readFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import test from 'ava';
import { compileAccessFormat, escapeValue } from '../src/access-format.js';
import { EXIT_USAGE } from '../src/exit-codes.js';
import { get, gsup, tempDir, until } from './helpers.js';

/** A GET with headers of the test's choosing. */
function getWith(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

const linesOf = (path: string): string[] =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];

// ---- the format (pure) ---------------------------------------------------------------------

const ENTRY = {
  remote: '10.0.0.7',
  method: 'GET',
  url: '/items?id=3',
  httpVersion: '1.1',
  status: 404,
  bytes: 9,
  ms: 12.5,
  startedAt: Date.UTC(2026, 11, 1, 18, 5, 9),
  pid: 4242,
  slot: 2,
  requestHeader: (name: string) =>
    ({ 'user-agent': 'curl/8', referer: 'http://a/', 'x-req': 'r"1' })[name],
  responseHeader: (name: string) => ({ 'content-type': 'text/plain' })[name],
};

test('the access format: Gunicorn atoms, headers both ways, escaped values', (t) => {
  const f = compileAccessFormat(
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s %(D)s %(M)s %(L)s %(T)s %(p)s %({x-req}i)s %({content-type}o)s',
  );
  if (typeof f === 'string') return t.fail(f);
  t.is(
    f(ENTRY),
    '10.0.0.7 - - [01/Dec/2026:18:05:09 +0000] "GET /items?id=3 HTTP/1.1" 404 9 "http://a/" "curl/8" GET /items id=3 HTTP/1.1 12500 13 0.012500 0 <4242> r\\x221 text/plain',
  );
  t.is(
    escapeValue('a\nb"c\\'),
    'a\\x0Ab\\x22c\\x5C',
    'a request cannot forge a line or break a quote',
  );
  t.is(escapeValue('plain /path?x=1'), 'plain /path?x=1');
});

test('the access format: json is one object per line with named fields', (t) => {
  const f = compileAccessFormat('json');
  if (typeof f === 'string') return t.fail(f);
  t.deepEqual(JSON.parse(f(ENTRY)), {
    time: '2026-12-01T18:05:09.000Z',
    remote: '10.0.0.7',
    method: 'GET',
    path: '/items',
    query: 'id=3',
    protocol: 'HTTP/1.1',
    status: 404,
    bytes: 9,
    duration_ms: 12.5,
    referer: 'http://a/',
    user_agent: 'curl/8',
    pid: 4242,
    slot: 2,
  });
});

test('the access format: an unknown atom or a broken one is a one-line error naming the fix', (t) => {
  t.regex(
    String(compileAccessFormat('%(h)s %(z)s')),
    /unknown atom %\(z\)s; the atoms are h l u t/,
  );
  t.regex(String(compileAccessFormat('%(h)s %(s')), /cannot read .*an atom is written %\(NAME\)s/);
  t.regex(String(compileAccessFormat('%({}i)s')), /names no header/);
});

// ---- workers writing it --------------------------------------------------------------------

test('workers write one line per request to the file; SIGUSR1 reopens it after a move', async (t) => {
  const dir = tempDir(t, 'access');
  const log = `${dir}/access.log`;
  const g = gsup(t, [
    'start',
    'slow.js',
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--access-log',
    log,
    '--access-logformat',
    '%(h)s "%(r)s" %(s)s %(b)s %(p)s "%({x-req}i)s"',
  ]);
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const sent = 20;
  // At once, so both workers write at the same time: a line cut by another's would fail the match.
  const statuses = await Promise.all(
    Array.from({ length: sent }, (_, i) =>
      getWith(`${url}/slow?ms=20&n=${i}`, { 'x-req': `req-${i}` }),
    ),
  );
  t.deepEqual(new Set(statuses), new Set([200]));
  await until('every request has its line', () => linesOf(log).length === sent);
  const pids = new Set(g.readyPids());
  for (const [i, line] of linesOf(log).entries()) {
    const m =
      /^127\.0\.0\.1 "GET \/slow\?ms=20&n=(\d+) HTTP\/1\.1" 200 (\d+) <(\d+)> "req-(\d+)"$/.exec(
        line,
      );
    if (!m) return t.fail(`line ${i}: ${line}`);
    t.is(m[1], m[4], 'the request header belongs to its own request');
    t.true(Number(m[2]) > 0, 'body bytes');
    t.true(pids.has(Number(m[3])), `pid ${m[3]} is a ready worker`);
  }

  // logrotate: move the file, then USR1; the next line goes to a new file at the path.
  renameSync(log, `${log}.1`);
  g.child.kill('SIGUSR1');
  // Which worker answers is the kernel's choice: keep asking until one line lands in the new file
  // (a worker that has not reopened yet still writes to the moved one).
  await until('a request after USR1 lands in the new file', async () => {
    await get(`${url}/after`);
    return linesOf(log).some((l) => l.includes('GET /after'));
  });
  t.is(linesOf(`${log}.1`).filter((l) => l.includes('/slow')).length, sent, 'nothing lost');
});

test('--access-log - : workers write JSON lines straight to gsup stdout', async (t) => {
  const g = gsup(t, [
    'start',
    'slow.js',
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--access-log',
    '-',
    '--access-logformat',
    'json',
  ]);
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  t.is((await get(`${url}/hello?x=1`)).status, 200);
  const line = await g.waitFor(/"path":"\/hello"/);
  const entry = JSON.parse(line.input ?? '{}');
  t.like(entry, { method: 'GET', path: '/hello', query: 'x=1', status: 200, slot: 1 });
  t.is(g.output.length, 0, 'the supervisor did not relay it as worker output');
});

for (const [title, args, expected] of [
  [
    'a bad access format',
    ['--access-logformat', '%(h)s %(zz)s'],
    /^gsup: access-logformat: unknown atom %\(zz\)s; the atoms are/,
  ],
  [
    'an access log that cannot be opened',
    ['--access-log', '/proc/no-such-dir/access.log'],
    /^gsup: access-log: cannot open \/proc\/no-such-dir\/access\.log for appending/,
  ],
] as const) {
  test(`bad input: ${title}`, async (t) => {
    const g = gsup(t, ['start', 'slow.js', '-b', '127.0.0.1:0', ...args]);
    t.is(await g.exited, EXIT_USAGE);
    const lines = g.stderr().split('\n').filter(Boolean);
    t.is(lines.length, 1, g.stderr());
    t.regex(lines[0] ?? '', expected);
  });
}

test('bad input: an access log for workers that do not write one', async (t) => {
  const g = gsup(t, ['start', '-k', 'exec', 'sleep 60', '-b', '127.0.0.1:0', '--access-log', '-']);
  t.is(await g.exited, EXIT_USAGE);
  const lines = g.stderr().split('\n').filter(Boolean);
  t.is(lines.length, 1, g.stderr());
  t.regex(
    lines[0] ?? '',
    /^gsup: access-log: only node workers write an access log today, and these are exec workers/,
  );
});
