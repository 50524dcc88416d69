// --metrics without Prometheus: the registry built from a model (pure), the address rules, and
// the server against real processes: bad addresses, a busy port, garbage on the socket, a unix
// socket. The real-Prometheus tests are in prometheus.test.ts.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { stamp } from '../dist/events.js';
import { Supervisor, serveMetrics } from '../dist/index.js';
import { LATENCY_BOUNDS_S, PoolMetrics, parseMetricsAddress } from '../dist/metrics/index.js';
import type { PoolEvent, PoolSnapshot } from '../dist/supervisor/snapshot.js';
import { samples } from '../harness/prometheus.js';
import { EXIT_FAILURE, EXIT_USAGE } from '../src/exit-codes.js';
import { get, getUnix, gsup, gsupVerb, poolOptions, tempDir, until } from './helpers.js';

/** A model with two slots, as the supervisor's snapshot gives it. */
function model(over: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    at: 0,
    pid: 1,
    app: 'app.js',
    listening: [],
    versions: { gsup: '0', node: process.version },
    state: 'running',
    uptimeMs: 1,
    target: 2,
    maxWorkers: 8,
    live: 1,
    ready: 1,
    timeoutMs: 30_000,
    utilization: null,
    totals: {
      requests: 0,
      rps: 0,
      inFlight: 0,
      busyMs: 0,
      status: [0, 0, 0, 0, 0],
      restarts: 0,
      reloads: 0,
    },
    reload: null,
    workers: [],
    slots: [
      // Bucket 39 ends at 2^10 µs (1.024 ms), bucket 40 starts there; 43 ends at 2^11 µs.
      {
        slot: 1,
        requests: 7,
        status: [0, 5, 0, 1, 1],
        busyMs: 2500,
        cpuSeconds: 1.5,
        latency: [
          [39, 3],
          [40, 2],
          [43, 1],
          [139, 1],
        ],
      },
      { slot: 2, requests: 0, status: [0, 0, 0, 0, 0], busyMs: 0, cpuSeconds: 0, latency: [] },
    ],
    waiting: [],
    events: [],
    ...over,
  };
}

class FakePool extends EventEmitter<{ event: [PoolEvent] }> {
  constructor(public snap: PoolSnapshot) {
    super();
  }
  snapshot(): PoolSnapshot {
    return this.snap;
  }
}

test('the registry writes the model: per-slot counters, exact cumulative buckets, no pid label', async (t) => {
  const pool = new FakePool(model());
  const s = samples(await new PoolMetrics(pool).scrape());
  t.is(s.get('gsup_http_requests_total{code="2xx",slot="1"}'), 5);
  t.is(s.get('gsup_http_requests_total{code="5xx",slot="1"}'), 1);
  t.is(s.get('gsup_http_requests_total{code="2xx",slot="2"}'), 0);
  t.is(s.get('gsup_worker_busy_seconds_total{slot="1"}'), 2.5);
  t.is(s.get('gsup_worker_cpu_seconds_total{slot="1"}'), 1.5);
  const bucket = (le: number | string) =>
    s.get(`gsup_http_request_duration_seconds_bucket{slot="1",le="${le}"}`);
  t.is(bucket(0.000512), 0);
  t.is(bucket(0.001024), 3, 'bucket 39 ends at 1.024 ms');
  t.is(bucket(0.002048), 6, 'buckets 40 and 43 end by 2.048 ms');
  t.is(bucket(LATENCY_BOUNDS_S[LATENCY_BOUNDS_S.length - 1] ?? 0), 6, 'the slowest is past 67 s');
  t.is(bucket('+Inf'), 7);
  t.is(s.get('gsup_http_request_duration_seconds_count{slot="1"}'), 7);
  const sum = s.get('gsup_http_request_duration_seconds_sum{slot="1"}') ?? 0;
  t.true(sum > 3600, `sum ${sum} s includes the one in the last bucket (hours)`);
  t.is(s.get('gsup_workers_wanted'), 2);
  t.is(s.get('gsup_workers_ready'), 1);
  t.false(
    [...s.keys()].some((k) => k.startsWith('gsup_pool_utilization_ratio')),
    'utilization is absent while the model has none',
  );
  t.false([...s.keys()].some((k) => k.includes('pid=')));
  pool.snap = model({ utilization: 0.25 });
  const again = samples(await new PoolMetrics(pool).scrape());
  t.is(again.get('gsup_pool_utilization_ratio'), 0.25);
});

test('exits are counted by reason and reloads by result, from the typed events', async (t) => {
  const pool = new FakePool(model());
  const metrics = new PoolMetrics(pool);
  const exit = (
    pid: number,
    cause: 'drained' | 'crashed' | 'timeout' | 'boot-failed',
    stopping = false,
  ) =>
    pool.emit(
      'event',
      stamp({
        type: 'worker-exit',
        slot: 1,
        pid,
        gen: 1,
        code: 0,
        signal: null,
        cause,
        reason: '',
        stopping,
      }),
    );
  pool.emit('event', stamp({ type: 'worker-spawn', slot: 1, pid: 10, gen: 1 }));
  pool.emit('event', stamp({ type: 'worker-drain', slot: 1, pid: 10, why: 'recycled' }));
  exit(10, 'drained');
  pool.emit('event', stamp({ type: 'worker-drain', slot: 2, pid: 11, why: 'scaled down' }));
  exit(11, 'drained');
  exit(12, 'crashed');
  exit(13, 'timeout');
  exit(14, 'boot-failed');
  exit(15, 'drained', true);
  pool.emit(
    'event',
    stamp({ type: 'worker-timeout', slot: 1, pid: 13, silentMs: 3000, timeoutS: 2 }),
  );
  pool.emit('event', stamp({ type: 'reload-end', ok: false, outcome: 'rolled-back', error: 'x' }));
  const s = samples(await metrics.scrape());
  const exits = (reason: string) => s.get(`gsup_worker_exits_total{reason="${reason}"}`);
  t.is(s.get('gsup_worker_starts_total'), 1);
  t.is(exits('recycle'), 1);
  t.is(exits('scale_down'), 1);
  t.is(exits('crash'), 1);
  t.is(exits('timeout'), 1);
  t.is(exits('boot_failure'), 1);
  t.is(exits('stop'), 1);
  t.is(exits('reload'), 0, 'every reason is there from zero');
  t.is(s.get('gsup_worker_timeouts_total'), 1);
  t.is(s.get('gsup_reloads_total{result="rolled_back"}'), 1);
  t.is(s.get('gsup_reloads_total{result="done"}'), 0);
});

test("--metrics refuses the app's own address and malformed values", (t) => {
  const bind = [{ kind: 'tcp' as const, host: '127.0.0.1', port: 8000 }];
  t.regex(
    String(parseMetricsAddress('127.0.0.1:8000', bind)),
    /^metrics: 127\.0\.0\.1:8000 is the app's own address \(bind 127\.0\.0\.1:8000\); .*--metrics 127\.0\.0\.1:9100$/,
  );
  t.regex(
    String(parseMetricsAddress(':8000', bind)),
    /app's own address/,
    'all interfaces include it',
  );
  t.deepEqual(parseMetricsAddress('127.0.0.1:9100', bind), {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 9100,
  });
  t.deepEqual(parseMetricsAddress('127.0.0.1:0', [{ kind: 'tcp', host: '127.0.0.1', port: 0 }]), {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 0,
  });
  t.regex(
    String(parseMetricsAddress('unix:/run/a.sock', [{ kind: 'unix', path: '/run/a.sock' }])),
    /app's own address/,
  );
  t.regex(String(parseMetricsAddress('127.0.0.1:70000', [])), /^metrics: port must be 0 to 65535/);
  t.regex(String(parseMetricsAddress('fd://3', [])), /^metrics: expected HOST:PORT/);
});

test('gsup start and gsup check refuse --metrics on the bind address in one line', async (t) => {
  const args = ['-b', '127.0.0.1:8123', '--metrics', '127.0.0.1:8123', 'slow.js'];
  const g = gsup(t, ['start', ...args]);
  t.is(await g.exited, EXIT_USAGE);
  const lines = g.stderr().trim().split('\n');
  t.is(lines.length, 1, g.stderr());
  t.regex(lines[0] ?? '', /^gsup: metrics: 127\.0\.0\.1:8123 is the app's own address/);
  const check = await gsupVerb(['check', ...args]);
  t.is(check.code, EXIT_USAGE);
  t.regex(check.stderr, /^gsup: metrics: 127\.0\.0\.1:8123 is the app's own address/);
  const ok = await gsupVerb(['check', '-b', '127.0.0.1:8123', '--metrics', ':9100', 'slow.js']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^metrics\s+:9100\s+\(command line\)$/m);
  const bad = await gsupVerb(['check', '--metrics', 'nonsense', 'slow.js']);
  t.is(bad.code, EXIT_USAGE);
  t.regex(bad.stderr, /^gsup: metrics: expected HOST:PORT.*got "nonsense"/);
});

test('a busy metrics port refuses the start in one line, before any worker starts', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const g = gsup(t, ['start', '-b', '127.0.0.1:0', '--metrics', `127.0.0.1:${port}`, 'slow.js']);
  t.is(await g.exited, EXIT_FAILURE);
  t.regex(
    g.stderr(),
    new RegExp(
      `^gsup: metrics: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use.*\\(EADDRINUSE\\)\\n$`,
    ),
  );
  t.is(g.countEvents('worker-spawn'), 0);
});

test('garbage on the metrics socket costs gsup nothing; odd paths get 404, odd methods 405', async (t) => {
  const g = gsup(t, ['start', '-b', '127.0.0.1:0', '--metrics', '127.0.0.1:0', 'slow.js']);
  const url = (await g.waitForEvent('metrics-listening')).url;
  const { port } = new URL(url);
  const garbage = [
    Buffer.from([0, 255, 1, 254, 13, 10, 13, 10]),
    Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\nX: '.padEnd(100_000, 'a')),
    Buffer.from('GET /metrics HTTP/1.1\r\nContent-Length: nope\r\n\r\n'),
    Buffer.from('GET /metr'),
  ];
  for (const bytes of garbage) {
    await new Promise<void>((resolve) => {
      const c = net.connect(Number(port), '127.0.0.1', () => {
        c.write(bytes);
        c.end();
      });
      c.on('data', () => undefined);
      c.on('error', () => resolve());
      c.on('close', () => resolve());
    });
  }
  t.is((await get(`${url}/healthz`)).status, 200);
  const missing = await get(`${url}/wp-admin?x=1`);
  t.is(missing.status, 404);
  t.regex(missing.body, /not found: \/wp-admin; gsup serves \/metrics/);
  t.is((await get(`${url}/metrics`)).status, 200);
  const post = await new Promise<number>((resolve, reject) => {
    const c = net.connect(Number(port), '127.0.0.1', () =>
      c.end('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
    );
    let text = '';
    c.on('data', (d) => {
      text += d.toString();
    });
    c.on('end', () => resolve(Number(text.split(' ')[1])));
    c.on('error', reject);
  });
  t.is(post, 405);
  t.is(g.child.exitCode, null, 'gsup still runs');
  t.is(g.countEvents('warning'), 0);
});

test('--metrics unix:/PATH serves the same endpoints and removes its socket on stop', async (t) => {
  const dir = tempDir(t, 'metrics-unix');
  const path = join(dir, 'metrics.sock');
  const g = gsup(t, ['start', '-b', '127.0.0.1:0', '--metrics', `unix:${path}`, 'slow.js']);
  t.is((await g.waitForEvent('metrics-listening')).url, `unix:${path}`);
  await g.waitForEvent('pool-ready');
  const ready = await getUnix(path, '/readyz');
  t.is(ready.status, 200, ready.body);
  t.regex(ready.body, /^ready: 2 of 2 workers ready/);
  t.regex((await getUnix(path, '/metrics')).body, /^gsup_workers_ready 2$/m);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.false(existsSync(path), 'the socket file is gone');
});

test('the programmatic API serves the same endpoints: serveMetrics before start()', async (t) => {
  const sup = new Supervisor(poolOptions({ workers: 2 }));
  const server = await serveMetrics(sup, '127.0.0.1:0');
  if (typeof server === 'string') return t.fail(server);
  t.teardown(async () => {
    await sup.stop({ quick: true });
    server.close();
  });
  const url = server.url ?? '';
  t.is(
    sup
      .snapshot()
      .events.find((e) => e.type === 'metrics-listening')
      ?.message.includes(url),
    true,
  );
  t.is((await get(`${url}/readyz`)).status, 503, 'not ready before start');
  await sup.start();
  await until('2 workers ready', () => sup.snapshot().ready === 2);
  t.is((await get(`${url}/readyz`)).status, 200);
  const s = samples((await get(`${url}/metrics`)).body);
  t.is(s.get('gsup_workers_ready'), 2);
  t.is(s.get('gsup_worker_starts_total'), 2);
});
