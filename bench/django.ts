// `npm run bench:django`: the same Django view under `gsup start -k wsgi` and under Gunicorn's sync
// workers (Debian's gunicorn), the same N, under wrk keep-alive and `Connection: close` load, in
// interleaved rounds (the order rotates each round). Prints the medians and gsup's ratio per mode.
// The project is made by `django-admin startproject` in a temp folder, DEBUG off, one view at "/"
// answering "hello\n" (the runner's readiness probe).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { int, seconds } from '../harness/args.js';
import { childPids, clockTicks, cpuTicks } from '../harness/procfs.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { autogroupOff } from './fairness.js';
import { options as readOptions, runMain } from './main.js';
import { killAll, type Server, startServer, stopServer } from './process.js';
import { announced } from './reloaders.js';
import { environment, save, shellLine } from './results.js';
import { median, summarise } from './stats.js';
import {
  killWrk,
  MODES,
  type Mode,
  runWrk,
  WRK_INSTALL,
  type WrkResult,
  wrkCommand,
  wrkVersion,
} from './wrk.js';

const USAGE = `Usage: npm run bench:django -- [options]

The same Django view under gsup -k wsgi and Gunicorn sync workers, same N, wrk keep-alive and
Connection: close, interleaved rounds; prints the medians and gsup's ratio per mode.

  --workers N       workers for both (default 2)
  --rounds R        interleaved rounds (default 5)
  --duration S      seconds per wrk run (default 5)
  --connections C   wrk -c (default 50)
  --threads T       wrk -t (default 1)
  --python PATH     the interpreter with Django, for gsup's workers (default /usr/bin/python3,
                    the one Debian's gunicorn runs on)
  -h, --help        this text`;

interface Options {
  help: boolean;
  workers: number;
  rounds: number;
  duration: number;
  connections: number;
  threads: number;
  python: string;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '50' },
      threads: { type: 'string', default: '1' },
      python: { type: 'string', default: '/usr/bin/python3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return {
    help: values.help,
    workers: int('--workers', values.workers, 1),
    rounds: int('--rounds', values.rounds, 1),
    duration: seconds('--duration', values.duration, 1),
    connections: int('--connections', values.connections, 1),
    threads: int('--threads', values.threads, 1),
    python: values.python,
  };
}

const VIEWS = `from django.http import HttpResponse


def hello(request):
    return HttpResponse("hello\\n", content_type="text/plain")
`;
const URLS = `from django.urls import path

from . import views

urlpatterns = [path("", views.hello)]
`;

/** A startproject project with DEBUG off and one view; returns its folder. */
function makeProject(python: string): string {
  const dir = makeTempDir('bench-django');
  execFileSync(python, ['-m', 'django', 'startproject', 'mysite', dir], { stdio: 'pipe' });
  writeFileSync(`${dir}/mysite/views.py`, VIEWS);
  writeFileSync(`${dir}/mysite/urls.py`, URLS);
  execFileSync('sed', [
    '-i',
    "s/^DEBUG = True/DEBUG = False/; s/^ALLOWED_HOSTS = \\[\\]/ALLOWED_HOSTS = ['127.0.0.1']/",
    `${dir}/mysite/settings.py`,
  ]);
  return dir;
}

const here = (path: string) => new URL(path, import.meta.url).pathname;

function setups(o: Options, dir: string): Array<{ name: string; argv: string[] }> {
  return [
    {
      name: 'gsup',
      argv: [
        process.execPath,
        here('../bin/gsup.js'),
        'start',
        '-k',
        'wsgi',
        'mysite.wsgi:application',
        '--python',
        o.python,
        '--chdir',
        dir,
        '-w',
        String(o.workers),
        '-b',
        '127.0.0.1:0',
        '--no-tui',
        '--log-format',
        'json',
      ],
    },
    {
      name: 'gunicorn',
      argv: [
        process.execPath,
        '--import=tsx',
        here('servers/gunicorn.ts'),
        String(o.workers),
        '--chdir',
        dir,
        '--module',
        'mysite.wsgi:application',
      ],
    },
  ];
}

type Run = WrkResult & { round: number; setup: string; mode: Mode; cpuMsPerRequest: number };

/** The worker pids of a setup: gsup's from its events, Gunicorn's as its master's children. */
function workerPids(server: Server): number[] {
  if (server.name === 'gsup') return [...server.strays];
  return childPids(Number(announced(server, 'gunicorn master pid')));
}

/** CPU time (user + system) of the workers, in ms: CPU per request does not depend on what else runs. */
function cpuMs(pids: number[]): number {
  return (pids.reduce((n, p) => n + (cpuTicks(p) ?? 0), 0) * 1000) / clockTicks();
}

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:django', argv, parse, USAGE);
  if ('code' in read) return read.code;
  const o = read.options;
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(`bench:django: ${WRK_INSTALL}`);
    return 1;
  }
  let dir: string;
  try {
    dir = makeProject(o.python);
  } catch {
    console.error(
      `bench:django: no Django for ${o.python}; \`apt-get install python3-django gunicorn\``,
    );
    return 1;
  }
  const env = environment(wrk);
  const autogroup = autogroupOff();
  console.log(
    `bench:django: node ${env.node}, ${env.nproc} cpus, ${env.wrk}, load average ${env.loadAverage.join(' ')}; autogroup ${autogroup.state}`,
  );
  const modes = Object.keys(MODES) as Mode[];
  const list = setups(o, dir);
  const runs: Run[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? list : [...list].reverse();
      for (const setup of order) {
        // Django's import takes seconds per worker on a loaded machine.
        const server = await startServer(setup.name, setup.argv, { bootDeadlineMs: 120_000 });
        try {
          // One second of unrecorded load: both load their URLconf on a worker's first request.
          await runWrk(wrkCommand({ ...o, duration: 1, mode: 'keep-alive', port: server.port }), 1);
          const pids = workerPids(server);
          for (const mode of modes) {
            const before = cpuMs(pids);
            const result = await runWrk(wrkCommand({ ...o, mode, port: server.port }), o.duration);
            const cpuMsPerRequest = (cpuMs(pids) - before) / Math.max(1, result.requests);
            runs.push({ round, setup: setup.name, mode, cpuMsPerRequest, ...result });
            const errors = result.socketErrors + result.non2xx;
            console.log(
              `  round ${round}/${o.rounds}  ${setup.name.padEnd(8)} ${mode.padEnd(10)} ${Math.round(result.rps).toLocaleString('en-US').padStart(6)} req/s  p99 ${result.p99Ms.toFixed(2)} ms  ${cpuMsPerRequest.toFixed(3)} ms CPU/req${errors ? `  ${errors} errors` : ''}`,
            );
          }
        } finally {
          await stopServer(server);
        }
      }
    }
  } finally {
    autogroup.restore();
    removeDir(dir);
  }
  const summary = Object.fromEntries(
    list.map(({ name }) => [
      name,
      Object.fromEntries(
        modes.map((m) => [m, summarise(runs.filter((r) => r.setup === name && r.mode === m))]),
      ),
    ]),
  );
  console.log(`\nN=${o.workers}, ${o.rounds} rounds of ${o.duration}s, wrk -c${o.connections}`);
  const ratios: Record<string, number> = {};
  for (const mode of modes) {
    const g = summary.gsup?.[mode];
    const u = summary.gunicorn?.[mode];
    if (!g || !u) continue;
    // Per round, gsup over the Gunicorn run next to it; the median of those, and the ratio of medians.
    const perRound = Array.from({ length: o.rounds }, (_, i) => {
      const a = runs.find((r) => r.round === i + 1 && r.setup === 'gsup' && r.mode === mode);
      const b = runs.find((r) => r.round === i + 1 && r.setup === 'gunicorn' && r.mode === mode);
      return a && b ? a.rps / b.rps : Number.NaN;
    });
    ratios[mode] = g.rps.median / u.rps.median;
    const cpu = (setup: string) =>
      median(
        runs.filter((r) => r.setup === setup && r.mode === mode).map((r) => r.cpuMsPerRequest),
      );
    console.log(
      `${mode.padEnd(10)} gsup ${Math.round(g.rps.median)} req/s (${Math.round(g.rps.min)}–${Math.round(g.rps.max)}), gunicorn ${Math.round(u.rps.median)} (${Math.round(u.rps.min)}–${Math.round(u.rps.max)}); gsup/gunicorn ${(ratios[mode] ?? 0).toFixed(2)}× (per-round median ${median(perRound).toFixed(2)}×); errors gsup ${g.socketErrors + g.non2xx}, gunicorn ${u.socketErrors + u.non2xx}; workers' CPU per request: gsup ${cpu('gsup').toFixed(3)} ms, gunicorn ${cpu('gunicorn').toFixed(3)} ms`,
    );
  }
  const file = save(
    {
      environment: { ...env, autogroup: autogroup.state },
      options: o,
      setups: list.map((s) => ({ name: s.name, command: shellLine(s.argv) })),
      summary,
      ratios,
      runs,
    },
    'bench-django',
  );
  console.log(`results: ${file}`);
  return 0;
}

runMain('bench:django', main, () => {
  killWrk();
  killAll();
});
