// Pure logic, no processes: the latency histogram, the boot backoff, bind and app-spec parsing,
// the start command's argument parsing (with its environment defaults), and the check every
// IPC message from a worker goes through.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { checkAppFile, parseAppSpec } from '../src/app-spec.js';
import { ConfigError, parseStart, startHelp, suggest } from '../src/config/parse.js';
import { SETTINGS } from '../src/config/schema.js';
import {
  BUCKETS,
  bucketOf,
  bucketValue,
  drain,
  quantile,
  type SparseHistogram,
} from '../src/histogram.js';
import { parseWorkerMessage } from '../src/ipc.js';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffMs } from '../src/supervisor/backoff.js';
import { type BindSpec, formatBind, parseBind } from '../src/supervisor/listener.js';

// ---- histogram ------------------------------------------------------------------------------

test('bucketOf: nothing below 1 µs or not a number goes anywhere but bucket 0', (t) => {
  for (const ms of [0, -1, -1000, 0.0001, 0.000999, Number.NaN, Number.NEGATIVE_INFINITY]) {
    t.is(bucketOf(ms), 0, `bucketOf(${ms})`);
  }
  t.is(bucketOf(0.001), 0); // exactly 1 µs
});

test('bucketOf: four buckets per doubling', (t) => {
  // 1 ms = 1000 µs; log2(1000) * 4 = 39.86
  t.is(bucketOf(1), 39);
  t.is(bucketOf(2), 43);
  t.is(bucketOf(4), 47);
  t.is(bucketOf(0.002), 4); // 2 µs
  t.is(bucketOf(0.016), 16); // 16 µs
});

test('bucketOf: anything slower than the last bucket lands in it', (t) => {
  t.is(bucketOf(1e12), BUCKETS - 1);
  t.is(bucketOf(Number.POSITIVE_INFINITY), BUCKETS - 1);
  t.is(bucketOf(Number.MAX_VALUE), BUCKETS - 1);
});

test('bucketOf is monotonic and bucketValue lands within ±10% of the measured latency', (t) => {
  let previous = -1;
  // Up to an hour: a stuck request's latency is still reported as what it was.
  for (let ms = 0.002; ms < 3_600_000; ms *= 1.07) {
    const b = bucketOf(ms);
    t.true(b >= previous, `bucketOf(${ms}) = ${b} is below ${previous}`);
    previous = b;
    t.true(b >= 0 && b < BUCKETS);
    const back = bucketValue(b);
    t.true(Math.abs(back - ms) / ms <= 0.1, `${ms} ms → bucket ${b} → ${back} ms`);
    // The representative value belongs to its own bucket.
    t.is(bucketOf(back), b);
  }
});

// Regression: the buckets once ended at 33.5 s, so a minute-long request read as 30.8 s.
test('latencies of a minute and an hour keep their size in the histogram', (t) => {
  for (const ms of [60_000, 3_600_000]) {
    const back = bucketValue(bucketOf(ms));
    t.true(Math.abs(back - ms) / ms <= 0.1, `${ms} ms reads back as ${back} ms`);
  }
});

test('bucketValue is the geometric middle of its bucket', (t) => {
  t.is(bucketValue(0), 2 ** (0.5 / 4) / 1000);
  t.is(bucketValue(40), 2 ** (40.5 / 4) / 1000);
  t.true(bucketValue(41) > bucketValue(40));
});

test('drain returns the non-empty buckets and zeroes them', (t) => {
  const dense = new Uint32Array(BUCKETS);
  dense[3] = 2;
  dense[40] = 7;
  dense[BUCKETS - 1] = 1;
  t.deepEqual(drain(dense), [
    [3, 2],
    [40, 7],
    [BUCKETS - 1, 1],
  ]);
  t.true(dense.every((n) => n === 0));
  t.deepEqual(drain(dense), []);
});

test('quantile of nothing is null', (t) => {
  t.is(quantile([], 0.5), null);
  t.is(quantile([[], []], 0.99), null);
});

test('quantile picks the bucket holding the q-th sample across several histograms', (t) => {
  const a: SparseHistogram = [
    [10, 50],
    [20, 30],
  ];
  const b: SparseHistogram = [
    [20, 10],
    [30, 9],
    [90, 1],
  ];
  // 100 samples: 50 in bucket 10, 40 in 20, 9 in 30, 1 in 90.
  t.is(quantile([a, b], 0), bucketValue(10));
  t.is(quantile([a, b], 0.5), bucketValue(10));
  t.is(quantile([a, b], 0.51), bucketValue(20));
  t.is(quantile([a, b], 0.9), bucketValue(20));
  t.is(quantile([a, b], 0.95), bucketValue(30));
  t.is(quantile([a, b], 0.99), bucketValue(30));
  t.is(quantile([a, b], 1), bucketValue(90));
  // The order of the parts and of the pairs does not matter.
  t.is(quantile([[...b].reverse(), [...a].reverse()], 0.95), bucketValue(30));
});

test('quantile of measured latencies round-trips through the buckets', (t) => {
  const dense = new Uint32Array(BUCKETS);
  for (let i = 1; i <= 100; i++) {
    const b = bucketOf(i); // 1 ms .. 100 ms
    dense[b] = (dense[b] ?? 0) + 1;
  }
  const p50 = quantile([drain(dense)], 0.5) ?? 0;
  t.true(Math.abs(p50 - 50) / 50 <= 0.1, `p50 = ${p50}`);
});

// ---- backoff --------------------------------------------------------------------------------

test('backoffMs: 0.1 s doubling per failure, capped at 30 s', (t) => {
  t.is(BACKOFF_BASE_MS, 100);
  t.is(BACKOFF_CAP_MS, 30_000);
  t.is(backoffMs(0), 0);
  t.is(backoffMs(-3), 0);
  t.is(backoffMs(1), 100);
  t.is(backoffMs(2), 200);
  t.is(backoffMs(3), 400);
  t.is(backoffMs(4), 800);
  t.is(backoffMs(9), 25_600);
  t.is(backoffMs(10), 30_000);
  t.is(backoffMs(11), 30_000);
  t.is(backoffMs(5000), 30_000); // 2 ** 4999 is Infinity: still the cap
  let previous = 0;
  for (let n = 1; n < 64; n++) {
    const ms = backoffMs(n);
    t.true(ms >= previous && ms <= 30_000, `backoffMs(${n}) = ${ms}`);
    previous = ms;
  }
});

// ---- bind specs -----------------------------------------------------------------------------

test('parseBind: every accepted form', (t) => {
  const cases: Array<[string, BindSpec]> = [
    ['127.0.0.1:8000', { kind: 'tcp', host: '127.0.0.1', port: 8000 }],
    ['127.0.0.1:0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:65535', { kind: 'tcp', host: '0.0.0.0', port: 65535 }],
    ['localhost:3000', { kind: 'tcp', host: 'localhost', port: 3000 }],
    [':8080', { kind: 'tcp', host: '0.0.0.0', port: 8080 }],
    ['[::1]:0', { kind: 'tcp', host: '::1', port: 0 }],
    ['[::]:443', { kind: 'tcp', host: '::', port: 443 }],
    ['[::ffff:127.0.0.1]:80', { kind: 'tcp', host: '::ffff:127.0.0.1', port: 80 }],
    ['unix:/run/app.sock', { kind: 'unix', path: '/run/app.sock' }],
    ['unix:./app.sock', { kind: 'unix', path: './app.sock' }],
    ['fd://3', { kind: 'fd', fd: 3 }],
    ['fd://0', { kind: 'fd', fd: 0 }],
    ['fd://12', { kind: 'fd', fd: 12 }],
  ];
  for (const [input, spec] of cases) t.deepEqual(parseBind(input), spec, input);
});

test('parseBind: every rejected form gives one line naming the value', (t) => {
  for (const bad of [
    '',
    'nonsense',
    '8000',
    '127.0.0.1',
    '127.0.0.1:',
    '127.0.0.1:http',
    '127.0.0.1:123456',
    '::1:80',
    '[::1]',
    '[::1]80',
    '[nothost]:80',
    ' 127.0.0.1:80',
    'unix:',
    'unix:app.sock',
    'fd://',
    'fd://x',
    'fd://-1',
    'fd://1.5',
    'tcp://127.0.0.1:80',
  ]) {
    const r = parseBind(bad);
    t.is(typeof r, 'string', `${JSON.stringify(bad)} was accepted as ${JSON.stringify(r)}`);
    if (typeof r !== 'string') continue;
    t.regex(r, /^bind: /);
    t.true(r.includes(JSON.stringify(bad)), r);
    t.false(r.includes('\n'));
  }
});

test('parseBind: a port above 65535 says so', (t) => {
  for (const bad of ['127.0.0.1:65536', ':99999', '[::1]:70000']) {
    const r = parseBind(bad);
    t.is(typeof r, 'string');
    t.regex(r as string, /^bind: port must be 0 to 65535, got \d+ in /);
    t.true((r as string).includes(JSON.stringify(bad)));
  }
});

// Regression: fd://N was read with Number(), so hex, exponents and spaces passed as fds.
test('parseBind: fd://N accepts only decimal digits', (t) => {
  for (const bad of ['fd://0x10', 'fd://1e1', 'fd:// 3', 'fd://3 ', 'fd://+3']) {
    t.is(
      typeof parseBind(bad),
      'string',
      `${bad} was accepted as ${JSON.stringify(parseBind(bad))}`,
    );
  }
});

test('formatBind writes a spec back the way a user would', (t) => {
  for (const input of ['127.0.0.1:8000', '[::1]:0', 'unix:/run/app.sock', 'fd://3']) {
    const spec = parseBind(input);
    if (typeof spec === 'string') {
      t.fail(spec);
      continue;
    }
    t.is(formatBind(spec), input);
  }
  t.is(formatBind({ kind: 'tcp', host: '0.0.0.0', port: 80 }), '0.0.0.0:80');
});

// ---- app specs ------------------------------------------------------------------------------

test('parseAppSpec: file, file:export and file:factory()', (t) => {
  t.deepEqual(parseAppSpec('app.js'), { file: 'app.js', exportName: null, factory: false });
  t.deepEqual(parseAppSpec('src/app.mjs:handler'), {
    file: 'src/app.mjs',
    exportName: 'handler',
    factory: false,
  });
  t.deepEqual(parseAppSpec('app.js:create()'), {
    file: 'app.js',
    exportName: 'create',
    factory: true,
  });
  t.deepEqual(parseAppSpec('app.cjs:$make_1()'), {
    file: 'app.cjs',
    exportName: '$make_1',
    factory: true,
  });
  t.deepEqual(parseAppSpec('/abs/path/app.js'), {
    file: '/abs/path/app.js',
    exportName: null,
    factory: false,
  });
  // The default export as a factory.
  t.deepEqual(parseAppSpec('app.js:()'), { file: 'app.js', exportName: null, factory: true });
  t.deepEqual(parseAppSpec('  app.js  '), { file: 'app.js', exportName: null, factory: false });
});

test('parseAppSpec: nothing to load gives one line', (t) => {
  for (const bad of ['', '   ']) {
    const r = parseAppSpec(bad);
    t.is(typeof r, 'string');
    t.regex(
      r as string,
      /^app: expected FILE, FILE:EXPORT, FILE:FACTORY\(\) or FILE\(\) \(e\.g\. .*\), got /,
    );
  }
});

test('checkAppFile: missing file, directory, real file', (t) => {
  const dir = join(tmpdir(), `gsup-unit-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, 'sub'), { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'app.js'), 'export default () => {};\n');
  const spec = (file: string) => ({ file, exportName: null, factory: false });
  t.is(checkAppFile(spec('app.js'), dir), null);
  t.is(
    checkAppFile(spec('nope.js'), dir),
    `app not found: nope.js (looked for ${join(dir, 'nope.js')})`,
  );
  t.regex(checkAppFile(spec('sub'), dir) ?? '', /^app is not a file: sub /);
});

// ---- gsup start arguments -------------------------------------------------------------------

test('parseStart: defaults with an empty environment', (t) => {
  const p = parseStart(['app.js'], {});
  t.deepEqual(p.positionals, ['app.js']);
  t.false(p.help);
  t.deepEqual(p.config, {
    workers: availableParallelism(),
    bind: ['127.0.0.1:8000'],
    backlog: 2048,
    timeout: 30,
    gracefulTimeout: 30,
    bootTimeout: 30,
    maxRequests: 0,
    maxRequestsJitter: 0,
    maxWorkers: Math.max(64, availableParallelism()),
    autoscale: false,
    minWorkers: 1,
    scaleUpAfter: 3,
    scaleDownAfter: 30,
    scaleCooldown: 5,
    maxWorkerMemory: null,
    minWorkerAge: 60,
    workerClass: 'node',
    python: 'python3',
    readyPattern: null,
    balance: true,
    nodeArg: [],
    tui: true,
    logFile: null,
    accessLog: null,
    accessLogFormat: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
    logFormat: 'text',
    name: 'default',
    control: null,
    controlEnabled: true,
    pidfile: null,
    metrics: null,
    config: null,
    user: null,
    group: null,
    umask: null,
    chdir: null,
    env: [],
  });
  for (const key of Object.keys(p.config) as Array<keyof typeof p.config>) {
    t.is(p.sources[key], 'default', key);
  }
});

test('parseStart: every flag, long and short', (t) => {
  const p = parseStart(
    [
      'app.js:create()',
      '-w',
      '3',
      '-b',
      '127.0.0.1:0',
      '--bind',
      'unix:/tmp/x.sock',
      '--backlog',
      '10',
      '-t',
      '2.5',
      '--graceful-timeout',
      '0',
      '--boot-timeout',
      '0.5',
      '--max-requests',
      '1000',
      '--max-requests-jitter',
      '50',
      '--max-workers',
      '8',
      '--autoscale',
      '--min-workers',
      '2',
      '--scale-up-after',
      '1.5',
      '--scale-down-after',
      '20',
      '--scale-cooldown',
      '0',
      '--max-worker-memory',
      '512M',
      '--min-worker-age',
      '10',
      '-k',
      'wsgi',
      '--python',
      '/usr/bin/python3',
      '--ready-pattern',
      '^ready',
      '--no-balance',
      '--node-arg',
      '--max-old-space-size=512',
      '--node-arg=--no-warnings',
      '--no-tui',
      '--log-file',
      '/tmp/gsup.log',
      '--access-log',
      '-',
      '--access-logformat',
      'json',
      '--log-format',
      'json',
      '--name',
      'api',
      '--control',
      '/run/api.sock',
      '--no-control',
      '--pidfile',
      '/run/api.pid',
      '--metrics',
      '127.0.0.1:9100',
      '-c',
      'gsup.config.json',
      '--user',
      'nobody',
      '--group',
      'nogroup',
      '--umask',
      '027',
      '--chdir',
      '/srv/api',
      '--env',
      'A=1',
      '--env=B=two=2',
    ],
    {},
  );
  t.deepEqual(p.positionals, ['app.js:create()']);
  t.deepEqual(p.config, {
    workers: 3,
    bind: ['127.0.0.1:0', 'unix:/tmp/x.sock'],
    backlog: 10,
    timeout: 2.5,
    gracefulTimeout: 0,
    bootTimeout: 0.5,
    maxRequests: 1000,
    maxRequestsJitter: 50,
    maxWorkers: 8,
    autoscale: true,
    minWorkers: 2,
    scaleUpAfter: 1.5,
    scaleDownAfter: 20,
    scaleCooldown: 0,
    maxWorkerMemory: 512 * 1024 * 1024,
    minWorkerAge: 10,
    workerClass: 'wsgi',
    python: '/usr/bin/python3',
    readyPattern: '^ready',
    balance: false,
    nodeArg: ['--max-old-space-size=512', '--no-warnings'],
    tui: false,
    logFile: '/tmp/gsup.log',
    accessLog: '-',
    accessLogFormat: 'json',
    logFormat: 'json',
    name: 'api',
    control: '/run/api.sock',
    controlEnabled: false,
    pidfile: '/run/api.pid',
    metrics: '127.0.0.1:9100',
    config: 'gsup.config.json',
    user: 'nobody',
    group: 'nogroup',
    umask: 0o27,
    chdir: '/srv/api',
    env: ['A=1', 'B=two=2'],
  });
  for (const key of Object.keys(p.config) as Array<keyof typeof p.config>) {
    t.is(p.sources[key], 'cli', key);
  }
});

test('parseStart: --help and -h', (t) => {
  t.true(parseStart(['--help'], {}).help);
  t.true(parseStart(['-h'], {}).help);
});

test('parseStart: WEB_CONCURRENCY and PORT set the defaults', (t) => {
  const p = parseStart(['app.js'], { WEB_CONCURRENCY: '5', PORT: '9123' });
  t.is(p.config.workers, 5);
  t.is(p.sources.workers, 'env');
  t.deepEqual(p.config.bind, ['0.0.0.0:9123']);
  t.is(p.sources.bind, 'env');
  // max-workers follows a higher worker count from the environment.
  t.is(parseStart(['app.js'], { WEB_CONCURRENCY: '100' }).config.maxWorkers, 100);
});

test('parseStart: the command line wins over the environment', (t) => {
  const p = parseStart(['app.js', '-w', '2', '-b', '127.0.0.1:0'], {
    WEB_CONCURRENCY: '5',
    PORT: '9123',
  });
  t.is(p.config.workers, 2);
  t.is(p.sources.workers, 'cli');
  t.deepEqual(p.config.bind, ['127.0.0.1:0']);
  t.is(p.sources.bind, 'cli');
  // A bad WEB_CONCURRENCY does not matter when -w is given.
  t.is(parseStart(['app.js', '-w', '2'], { WEB_CONCURRENCY: 'lots' }).config.workers, 2);
});

test('parseStart: a bad WEB_CONCURRENCY names the variable and the value', (t) => {
  for (const bad of ['abc', '0', '-2', '1.5', '5000']) {
    const err = t.throws(() => parseStart(['app.js'], { WEB_CONCURRENCY: bad }), {
      instanceOf: ConfigError,
    });
    t.regex(err?.message ?? '', /^workers: expected a whole number from 1 to 1024/);
    t.true(err?.message.includes(`got ${JSON.stringify(bad)}`), err?.message);
    t.true(err?.message.includes('WEB_CONCURRENCY'), err?.message);
  }
});

test('parseStart: bad command-line values are one line naming the flag and the value', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['-w', 'abc'],
      /^workers: expected a whole number from 1 to 1024, got "abc" \(from the command line\)$/,
    ],
    [['-w', '0'], /^workers: .*got "0"/],
    [['-w', '1025'], /^workers: .*got "1025"/],
    [['-w', '2.5'], /^workers: .*got "2\.5"/],
    [['--timeout=-1'], /^timeout: expected a number of seconds from 0 to 86400, got "-1"/],
    [['-t', 'x'], /^timeout: .*got "x"/],
    [['-t', '86401'], /^timeout: .*got "86401"/],
    [['--boot-timeout', '0'], /^boot-timeout: .*got "0"/],
    [['--backlog', 'x'], /^backlog: expected a whole number from 1 to 65535, got "x"/],
    [['--backlog', '0'], /^backlog: .*got "0"/],
    [['--max-requests=-5'], /^max-requests: .*got "-5"/],
    [['--name', ''], /^name: expected a non-empty value, got ""/],
    [['-w'], /^workers: missing a value after --workers$/],
    [['--log-file'], /^log-file: missing a value after --log-file$/],
    [['--wokers', '2'], /^unknown option --wokers; did you mean --workers\?/],
    [['--max-worker', '2'], /^unknown option --max-worker; did you mean --max-workers\?/],
    [['-x'], /^unknown option -x/],
    [['-w', '10', '--max-workers', '5'], /^workers: 10 is above max-workers 5/],
  ];
  for (const [args, expected] of cases) {
    const err = t.throws(() => parseStart(['app.js', ...args], {}), { instanceOf: ConfigError });
    t.regex(err?.message ?? '', expected, args.join(' '));
    t.false(err?.message.includes('\n'), `multi-line message for ${args.join(' ')}`);
  }
});

// A negative value after a flag (-t -1) reaches gsup's own validation, which names the value.
const DASH_VALUES = [
  ['-t', '-1', 'timeout'],
  ['-w', '-3', 'workers'],
  ['--max-requests', '-5', 'max-requests'],
] as const;

for (const [flag, value, name] of DASH_VALUES) {
  test(`parseStart: ${flag} ${value} is one line naming ${name} and the value`, (t) => {
    const err = t.throws(() => parseStart(['app.js', flag, value], {}), {
      instanceOf: ConfigError,
    });
    t.false(err?.message.includes('\n'), err?.message);
    t.regex(
      err?.message ?? '',
      new RegExp(`^${name}: expected .*, got "${value}" \\(from the command line\\)$`),
    );
  });
}

test('suggest finds the closest name within a small distance', (t) => {
  const flags = SETTINGS.map((s) => s.flag);
  t.is(suggest('wokers', flags), 'workers');
  t.is(suggest('bnid', flags), 'bind');
  t.is(suggest('gracefull-timeout', flags), 'graceful-timeout');
  t.is(suggest('zzzzzzz', flags), null);
  t.is(suggest('strat', ['start']), 'start');
});

test('startHelp lists every setting with its flag', (t) => {
  const help = startHelp();
  for (const s of SETTINGS) {
    t.true(help.includes(`--${s.flag}`), s.flag);
    if (s.short) t.true(help.includes(`-${s.short}, --${s.flag}`), s.short);
  }
});

// ---- worker messages ------------------------------------------------------------------------

const STATS = {
  requests: 10,
  inFlight: 1,
  busyMs: 250,
  status: [0, 9, 0, 1, 0],
  latency: [
    [39, 4],
    [43, 5],
  ],
  lagMs: { mean: 1.5, max: 12 },
  rss: 50_000_000,
  heapUsed: 10_000_000,
  conns: 3,
  shed: 1,
};

test('parseWorkerMessage accepts every valid message', (t) => {
  t.deepEqual(parseWorkerMessage({ t: 'ready', listening: ['127.0.0.1:8000', 'unix:/x'] }), {
    t: 'ready',
    listening: ['127.0.0.1:8000', 'unix:/x'],
  });
  t.deepEqual(parseWorkerMessage({ t: 'ready', listening: [] }), { t: 'ready', listening: [] });
  t.deepEqual(parseWorkerMessage({ t: 'hb', stats: STATS }), { t: 'hb', stats: STATS });
  t.deepEqual(parseWorkerMessage({ t: 'boot-error', message: 'boom', where: 'app.js:3' }), {
    t: 'boot-error',
    message: 'boom',
    where: 'app.js:3',
  });
  t.deepEqual(parseWorkerMessage({ t: 'boot-error', message: 'boom' }), {
    t: 'boot-error',
    message: 'boom',
    where: null,
  });
  t.deepEqual(parseWorkerMessage({ t: 'boot-error', message: 'boom', where: 7 }), {
    t: 'boot-error',
    message: 'boom',
    where: null,
  });
  t.deepEqual(parseWorkerMessage({ t: 'recycle', requests: 1000 }), {
    t: 'recycle',
    requests: 1000,
  });
  t.deepEqual(parseWorkerMessage({ t: 'warn', message: 'careful' }), {
    t: 'warn',
    message: 'careful',
  });
});

test('parseWorkerMessage rejects what is not a gsup message', (t) => {
  for (const raw of [null, undefined, 42, 'plain string', true, [], [1, 2], {}, { t: 5 }]) {
    const r = parseWorkerMessage(raw);
    t.is(typeof r, 'string', `${String(raw)} was accepted`);
    t.regex(r as string, /^not a gsup message: /);
  }
  t.is(parseWorkerMessage('plain string'), 'not a gsup message: "plain string"');
  t.is(parseWorkerMessage(undefined), 'not a gsup message: undefined');
});

test('parseWorkerMessage rejects malformed messages of each kind', (t) => {
  const bad: unknown[] = [
    { t: 'ready' },
    { t: 'ready', listening: 'x' },
    { t: 'ready', listening: [1] },
    { t: 'hb' },
    { t: 'hb', stats: 'nonsense' },
    { t: 'hb', stats: { ...STATS, requests: '10' } },
    { t: 'hb', stats: { ...STATS, requests: Number.NaN } },
    { t: 'hb', stats: { ...STATS, inFlight: Number.POSITIVE_INFINITY } },
    { t: 'hb', stats: { ...STATS, status: [0, 0, 0, 0] } },
    { t: 'hb', stats: { ...STATS, status: [0, 0, 0, 0, 'x'] } },
    { t: 'hb', stats: { ...STATS, latency: [[1]] } },
    { t: 'hb', stats: { ...STATS, latency: 'x' } },
    { t: 'hb', stats: { ...STATS, lagMs: null } },
    { t: 'hb', stats: { ...STATS, lagMs: { mean: 1 } } },
    { t: 'hb', stats: { ...STATS, rss: undefined } },
    { t: 'hb', stats: { ...STATS, heapUsed: null } },
    { t: 'boot-error' },
    { t: 'boot-error', message: 3 },
    { t: 'recycle' },
    { t: 'recycle', requests: '5' },
    { t: 'warn' },
    { t: 'warn', message: {} },
    { t: 'drain' },
    { t: 'nonsense', payload: 1 },
  ];
  for (const raw of bad) {
    const r = parseWorkerMessage(raw);
    t.is(typeof r, 'string', `${JSON.stringify(raw)} was accepted`);
    const kind = (raw as { t: string }).t;
    t.true((r as string).startsWith(`malformed '${kind}' message: `), r as string);
  }
});

test('parseWorkerMessage keeps its complaint short, even about huge or circular garbage', (t) => {
  const huge = parseWorkerMessage({ t: 'x'.repeat(500), junk: 'y'.repeat(10_000) });
  t.is(typeof huge, 'string');
  t.true((huge as string).length < 250, `${(huge as string).length} chars`);
  t.true((huge as string).startsWith(`malformed '${'x'.repeat(40)}' message: `));
  t.true((huge as string).endsWith('…'));

  const circular: Record<string, unknown> = { t: 'hb' };
  circular.stats = circular;
  const r = parseWorkerMessage(circular);
  t.is(typeof r, 'string');
  t.regex(r as string, /^malformed 'hb' message: /);

  const big = parseWorkerMessage('z'.repeat(1000));
  t.true((big as string).length < 200);
});
