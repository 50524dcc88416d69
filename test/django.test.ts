// A real Django project, made by `django-admin startproject` in a temp folder, served by
// `gsup start -k wsgi` with 2 workers: pages, counts, a hung view, reloads, and gsup's death.
// Debian's python3-django is for /usr/bin/python3 (the `python3` on PATH may lack it).
// Serial: each test boots two Django workers, and seven at once swamp two busy cores.
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { get, gsup, isAlive, load, tempDir, until } from './helpers.js';

const PYTHON = '/usr/bin/python3';

const VIEWS = `import time

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    return HttpResponse("hello from django\\n")


def slow(request):
    print("slow view started", flush=True)
    time.sleep(float(request.GET.get("s", "1")))
    return HttpResponse("slept\\n")


@csrf_exempt
def echo(request):
    return HttpResponse("%d bytes: %s\\n" % (len(request.body), request.body[:20].decode()))


def spin_forever(request):
    n = 0
    while True:
        n += 1
`;

const URLS = `from django.urls import path
from django.views.debug import default_urlconf

from . import views

urlpatterns = [
    path("", default_urlconf),
    path("hello/", views.hello),
    path("slow/", views.slow),
    path("echo/", views.echo),
    path("spin/", views.spin_forever),
]
`;

/** A fresh Django project in a temp folder: the startproject defaults plus a few views. */
function djangoProject(t: ExecutionContext): string {
  const dir = tempDir(t, 'django');
  try {
    execFileSync(PYTHON, ['-m', 'django', 'startproject', 'mysite', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `these tests need Django for ${PYTHON} (Debian: apt-get install python3-django): ${(err as Error).message}`,
    );
  }
  writeFileSync(`${dir}/mysite/views.py`, VIEWS);
  // "/" stays Django's welcome page: its own view, which it shows for a project with no URLs yet.
  writeFileSync(`${dir}/mysite/urls.py`, URLS);
  return dir;
}

/** `gsup start -k wsgi mysite.wsgi:application` in the project, 2 workers, bytecode kept out of it. */
function serveDjango(t: ExecutionContext, dir: string, extra: string[] = []) {
  return gsup(
    t,
    [
      'start',
      '-k',
      'wsgi',
      'mysite.wsgi:application',
      '--python',
      PYTHON,
      '-w',
      '2',
      '-b',
      '127.0.0.1:0',
      '--no-tui',
      ...extra,
    ],
    { cwd: dir, env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
}

/** POSTs a body, chunked (no length) or with Content-Length. */
function post(
  url: string,
  body: string,
  chunked: boolean,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (!chunked) req.setHeader('Content-Length', Buffer.byteLength(body));
    req.write(body.slice(0, 3));
    req.end(body.slice(3));
  });
}

interface Totals {
  requests: number;
  status: Record<string, number>;
}

test.serial(
  'the default page and a view answer, request bodies arrive, and the counts add up',
  async (t) => {
    const dir = djangoProject(t);
    const g = serveDjango(t, dir);
    const url = await g.url();
    await g.waitForEvent('pool-ready', (e) => e.workers === 2);
    const home = await get(`${url}/`);
    t.is(home.status, 200);
    t.regex(home.body, /django/i);
    t.is(home.headers.connection, 'close');
    const hello = await get(`${url}/hello/`);
    t.is(hello.status, 200);
    t.is(hello.body, 'hello from django\n');
    t.is((await get(`${url}/nope/`)).status, 404);
    t.deepEqual(await post(`${url}/echo/`, 'hello body', false), {
      status: 200,
      body: '10 bytes: hello body\n',
    });
    t.deepEqual(await post(`${url}/echo/`, 'chunked body!', true), {
      status: 200,
      body: '13 bytes: chunked body!\n',
    });
    for (let i = 0; i < 20; i++) t.is((await get(`${url}/hello/`)).status, 200);
    // 25 requests: 24 answered 2xx, one 404; heartbeats bring the counts within a second.
    let totals: Totals | null = null;
    await until('the pool counted 25 requests', async () => {
      totals = ((await g.status()) as unknown as { totals: Totals }).totals;
      return totals.requests === 25;
    });
    t.deepEqual((totals as Totals | null)?.status, {
      '1xx': 0,
      '2xx': 24,
      '3xx': 0,
      '4xx': 1,
      '5xx': 0,
    });
    const snap = (await g.status()) as unknown as {
      workers: Array<{ requests: number; p50Ms: number | null }>;
    };
    t.is(
      snap.workers.reduce((n, w) => n + w.requests, 0),
      25,
    );
    t.true(snap.workers.some((w) => w.p50Ms !== null && w.p50Ms > 0));
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  },
);

test.serial(
  'a view that loops forever is killed on timeout and its Python stack names the view',
  async (t) => {
    const dir = djangoProject(t);
    const g = serveDjango(t, dir, ['-t', '2']);
    const url = await g.url();
    await g.waitForEvent('pool-ready', (e) => e.workers === 2);
    get(`${url}/spin/`).catch(() => undefined);
    await g.waitForEvent('worker-timeout');
    const exit = await g.waitForEvent('worker-exit', (e) => e.cause === 'timeout');
    t.truthy(exit.stack?.length, 'no stack reached the event');
    t.regex(exit.stack?.[0] ?? '', /^spin_forever \(.*mysite\/views\.py:\d+\)$/);
    t.regex(exit.message, /stuck in spin_forever \(.*views\.py:\d+\)/);
    await until('the pool is back to 2 ready workers', () => g.readyPids().length === 2);
    t.is((await get(`${url}/hello/`)).status, 200);
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  },
);

test.serial('a reload under load fails no request and replaces every worker', async (t) => {
  const dir = djangoProject(t);
  const g = serveDjango(t, dir);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const before = g.readyPids();
  const traffic = load(`${url}/hello/`, 8);
  await until('some requests were answered', () => traffic.ok() > 50);
  g.child.kill('SIGHUP');
  await g.waitForEvent('reload-end', (e) => e.outcome === 'done');
  const atReload = traffic.ok();
  await until('requests flow after the reload', () => traffic.ok() > atReload + 50);
  const result = await traffic.stop();
  t.deepEqual(result.errors.slice(0, 5), []);
  t.is(result.failed, 0);
  const after = g.readyPids();
  t.is(after.length, 2);
  for (const pid of before) t.false(after.includes(pid), `old pid ${pid} still ready`);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test.serial(
  'a reload after breaking settings.py rolls back with the file and line, and keeps serving',
  async (t) => {
    const dir = djangoProject(t);
    const g = serveDjango(t, dir);
    const url = await g.url();
    await g.waitForEvent('pool-ready', (e) => e.workers === 2);
    const before = g.readyPids();
    const settings = `${dir}/mysite/settings.py`;
    const lines = readFileSync(settings, 'utf8').split('\n').length;
    appendFileSync(settings, 'DEBUG = = True\n');
    g.child.kill('SIGHUP');
    const failed = await g.waitForEvent('worker-boot-failed');
    t.regex(failed.error, /^SyntaxError: .* \(at .*mysite\/settings\.py:\d+\)$/);
    t.false(failed.error.includes('\n'));
    const line = Number(/settings\.py:(\d+)/.exec(failed.error)?.[1]);
    t.is(line, lines, 'the line of the broken statement');
    const end = await g.waitForEvent('reload-end', (e) => e.outcome !== 'not-started');
    t.regex(end.message, /reload rolled back: .*SyntaxError/);
    t.deepEqual(g.readyPids().sort(), before.sort());
    t.is((await get(`${url}/hello/`)).body, 'hello from django\n');
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  },
);

test.serial('TERM lets a request in flight finish; max-requests recycles a worker', async (t) => {
  const dir = djangoProject(t);
  const g = serveDjango(t, dir, ['--max-requests', '5']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  for (let i = 0; i < 12; i++) t.is((await get(`${url}/hello/`)).status, 200);
  await g.waitForEvent('worker-drain', (e) => e.why === 'recycled');
  const slow = get(`${url}/slow/?s=1.5`);
  await g.waitFor(/slow view started/);
  g.child.kill('SIGTERM');
  const r = await slow;
  t.is(r.status, 200);
  t.is(r.body, 'slept\n');
  t.is(await g.exited, 0);
});

test.serial('a missing module is one line naming it, and gsup exits 3', async (t) => {
  const dir = djangoProject(t);
  const g = gsup(
    t,
    ['start', '-k', 'wsgi', 'nosuchsite.wsgi', '--python', PYTHON, '-w', '1', '-b', '127.0.0.1:0'],
    { cwd: dir, env: { PYTHONDONTWRITEBYTECODE: '1' } },
  );
  t.is(await g.exited, 3);
  const failed = await g.waitForEvent('worker-boot-failed');
  t.regex(failed.error, /cannot import nosuchsite\.wsgi: no module named 'nosuchsite'/);
});

test.serial('kill -9 of gsup leaves no Python worker, even one stuck in a view', async (t) => {
  const dir = djangoProject(t);
  const g = serveDjango(t, dir, ['-t', '0']);
  const url = await g.url();
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  const pids = g.readyPids();
  get(`${url}/spin/`).catch(() => undefined);
  await until('one worker is spinning', () =>
    pids.some((pid) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(stat[11]) > 50; // utime over 0.5 s
    }),
  );
  g.child.kill('SIGKILL');
  for (const pid of pids) await until(`worker ${pid} exits`, () => !isAlive(pid));
  t.deepEqual(
    pids.filter((pid) => isAlive(pid)),
    [],
  );
});
