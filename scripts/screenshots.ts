// `npm run screenshots`: runs the real supervisor on examples/demo.js with the real dashboard in a
// headless terminal, drives one scenario (steady load, a scale-up, a reload in progress, a hung
// worker killed with its stack) and writes each moment as SVG, PNG and plain text. Then a second
// pool: a Django project made by `django-admin startproject` in a temp folder (removed after),
// served by `-k wsgi` workers under steady load.
//
//   node --import=tsx scripts/screenshots.ts [--out DIR]     (default: screenshots/)
//
// What is pinned so the images only change when the dashboard does: see scripts/screenshots/pinned.ts.

import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DemoLoad } from '../dist/demo/load.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { advance, pinClock, resetClock } from './screenshots/clock.js';
import { pngUnavailable } from './screenshots/png.js';
import { makeRig, type Rig } from './screenshots/rig.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Seconds a hung worker may stay silent: short, so the script is quick. */
const TIMEOUT_S = 2;
/** The slot whose worker the script hangs, so the same row is killed in every run. */
const HUNG_SLOT = 2;
/** The interpreter with Debian's python3-django (the `python3` on PATH may lack Django). */
const PYTHON = '/usr/bin/python3';
/** How long a check of the Django project's answers may take (its first request loads the URLconf). */
const DJANGO_ANSWER_MS = 30_000;
/** Where the Django project's temp folder is shown to be. */
const DJANGO_SHOWN_AT = '/srv/mysite';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
  const out = resolve(values.out ?? resolve(ROOT, 'screenshots'));
  mkdirSync(out, { recursive: true });
  pinClock();

  const written = [...(await demo(out)), ...(await django(out))];
  for (const f of written) console.log(`wrote ${f}`);
  const why = await pngUnavailable();
  if (why) console.log(`no PNGs: ${why}`);
  return 0;
}

/** The Node demo pool: steady load, a scale-up, a reload, a hung worker. */
async function demo(out: string): Promise<string[]> {
  const env = { ...process.env };
  delete env.GSUP_DEMO_URL; // its hint line races the ready events; the pictures leave it out
  const rig = await makeRig({
    root: ROOT,
    out,
    app: 'examples/demo.js',
    workers: 3,
    timeout: TIMEOUT_S,
    env,
  });
  // Real traffic, so the reload drains real connections; the figures shown are pinned anyway.
  const load = new DemoLoad(rig.sup.urls[0] ?? '', 10);
  try {
    load.start();
    return await scenario(rig);
  } finally {
    await load.stop();
    await rig.close();
  }
}

/**
 * A Django pool: `gsup start -k wsgi mysite.wsgi:application --python /usr/bin/python3 -w 2` in
 * a fresh startproject, under the demo's steady load, on a clock started again at 12:00:00.
 */
async function django(out: string): Promise<string[]> {
  resetClock();
  const dir = makeTempDir('shot-django');
  try {
    djangoProject(dir);
    const rig = await makeRig({
      root: ROOT,
      out,
      app: 'mysite.wsgi:application',
      workers: 2,
      // gsup's default, as the README's command runs it.
      timeout: 30,
      // Bytecode kept out of the project and Django's own folders.
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      cwd: dir,
      shownCwd: DJANGO_SHOWN_AT,
      workerClass: 'wsgi',
      python: PYTHON,
      // `gsup start` without --name.
      name: 'default',
    });
    const load = new DemoLoad(rig.sup.urls[0] ?? '', 10);
    try {
      load.start();
      await rig.waitForEvent('pool-ready', (e) => e.workers === 2);
      // The figures shown are pinned, and Django's request log is quiet: check here that the
      // project really answers what the load asks for.
      await expectAnswer(rig, '/', 200, /The install worked successfully/);
      await expectAnswer(rig, '/slow?ms=1', 200, /^slow\n$/);
      await expectAnswer(rig, '/error', 500, /^a failing dependency\n$/);
      await rig.settle();
      await steady(rig, 10);
      return await rig.capture('django', 'gsup -k wsgi: a Django project on 2 workers');
    } finally {
      await load.stop();
      await rig.close();
    }
  } finally {
    removeDir(dir);
  }
}

/** GETs `path` from the pool on a fresh connection; throws unless it answers `status` and `body`. */
async function expectAnswer(rig: Rig, path: string, status: number, body: RegExp): Promise<void> {
  const url = `${rig.sup.urls[0]}${path}`;
  const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.setTimeout(DJANGO_ANSWER_MS, () =>
      req.destroy(new Error(`no answer in ${DJANGO_ANSWER_MS} ms`)),
    );
    req.on('error', reject);
  });
  if (got.status !== status || !body.test(got.body)) {
    throw new Error(
      `GET ${url} answered ${got.status} ${JSON.stringify(got.body.slice(0, 300))}, expected ${status} matching ${body}`,
    );
  }
}

/**
 * `django-admin startproject mysite` in `dir`, with views for the paths the demo's load asks for:
 * "/" is Django's welcome page, /slow?ms=N answers after N ms, /error is a 500.
 */
function djangoProject(dir: string): void {
  try {
    execFileSync(PYTHON, ['-m', 'django', 'startproject', 'mysite', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(
      `the Django screenshot needs Django for ${PYTHON} (Debian: apt-get install python3-django): ${(err as Error).message}`,
    );
  }
  writeFileSync(
    join(dir, 'mysite', 'views.py'),
    `import time

from django.http import HttpResponse, HttpResponseServerError


def slow(request):
    time.sleep(int(request.GET.get("ms", "300")) / 1000)
    return HttpResponse("slow\\n")


def error(request):
    return HttpResponseServerError("a failing dependency\\n")
`,
  );
  writeFileSync(
    join(dir, 'mysite', 'urls.py'),
    `from django.urls import path
from django.views.debug import default_urlconf

from . import views

urlpatterns = [
    path("", default_urlconf),
    path("slow", views.slow),
    path("error", views.error),
]
`,
  );
  // Django logs every 4xx and 5xx ("Internal Server Error: /error") to stderr, which the log pane
  // shows: how many depends on how fast this machine is, and the picture would differ per run.
  // The Node demo's /error logs nothing either.
  appendFileSync(
    join(dir, 'mysite', 'settings.py'),
    `
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django.request": {"level": "CRITICAL"}},
}
`,
  );
}

async function scenario(rig: Rig): Promise<string[]> {
  const files: string[] = [];
  await rig.waitForEvent('pool-ready', (e) => e.workers === 3);
  await rig.settle();
  await steady(rig, 10);
  files.push(...(await rig.capture('dashboard', 'gsup demo: steady load on 3 workers')));

  // A scale-up from the keyboard, caught while the new worker boots.
  let frozen = rig.view.freezeAt((_s, e) => e.type === 'worker-spawn');
  rig.term.press('+');
  await frozen;
  files.push(...(await rig.capture('scale-up', 'gsup demo: + adds a worker')));
  rig.view.unfreeze();
  await rig.until('4 ready workers', (s) => s.ready === 4 && s.live === 4);
  await rig.settle();
  await steady(rig, 4);

  // A reload, caught when the first new worker is ready and the old ones start to go.
  frozen = rig.view.freezeAt((_s, e) => e.type === 'reload-canary-ready');
  rig.term.press('r');
  await frozen;
  files.push(...(await rig.capture('reload', 'gsup demo: r, a rolling reload in progress')));
  rig.view.unfreeze();
  await rig.waitForEvent('reload-end', (e) => e.outcome === 'done');
  await rig.until(
    'the old workers gone',
    (s) => s.workers.length === 4 && s.workers.every((w) => w.state === 'ready' && !w.replacing),
  );
  await rig.settle();
  await steady(rig, 4);

  // A hung worker: killed after the timeout, with the stack it was stuck in.
  let killed = false;
  frozen = rig.view.freezeAt((_s, e) => {
    if (e.type === 'worker-exit' && e.cause === 'timeout') killed = true;
    return killed && e.type === 'worker-spawn';
  });
  await hang(rig, HUNG_SLOT);
  advance(TIMEOUT_S);
  await frozen;
  files.push(...(await rig.capture('timeout', 'gsup demo: a hung worker killed, with its stack')));
  rig.view.unfreeze();
  return files;
}

/** `seconds` of steady traffic on the pinned clock, one dashboard refresh per second. */
async function steady(rig: Rig, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    advance(1);
    rig.view.serve(1);
    await rig.settle();
  }
}

/** Sends /hang?slot=N on fresh connections until the worker in that slot takes one and spins. */
async function hang(rig: Rig, slot: number): Promise<void> {
  const url = `${rig.sup.urls[0]}/hang?slot=${slot}`;
  // The chosen worker never answers; its spin shows as its log line instead.
  const spinning = rig.waitForOutput(/spinning on purpose/).then(() => 'hung' as const);
  for (let attempt = 1; attempt <= 200; attempt++) {
    const status = await new Promise<number | 'hung'>((resolve, reject) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // Its connection is reset when the timeout kills it.
      req.on('error', () => undefined);
      spinning.then(resolve, reject);
    });
    if (status === 'hung') return;
    if (status !== 409) throw new Error(`GET ${url} answered ${status}, expected 409 or no answer`);
  }
  throw new Error(`no connection reached the worker in slot ${slot} in 200 attempts`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`screenshots: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
