// --metrics against the real thing: Debian's Prometheus scrapes gsup and its HTTP API must count
// every request; promtool lints a scrape; counters survive a worker's replacement; /readyz turns
// 503 when a graceful stop begins, while a held request keeps a worker draining.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ControlClient } from '../dist/control/client.js';
import { controlPath } from '../dist/control/paths.js';
import { samples, startPrometheus } from '../harness/prometheus.js';
import { get, gsup, tempDir, until } from './helpers.js';

/** Starts gsup with --metrics on a free loopback port; resolves with the app's and the metrics' URLs. */
async function served(t: import('ava').ExecutionContext, args: string[]) {
  const g = gsup(t, ['start', '-b', '127.0.0.1:0', '--metrics', '127.0.0.1:0', ...args]);
  const metrics = (await g.waitForEvent('metrics-listening')).url;
  await g.waitForEvent('pool-ready');
  return { g, app: await g.url(), metrics };
}

/** Sends `n` requests, a few at a time; every one must answer 200. */
async function send(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, () => get(url));
    for (const r of await Promise.all(batch)) if (r.status !== 200) throw new Error(`${r.status}`);
  }
}

/** The gsup_ series of one scrape. */
async function scrape(metrics: string): Promise<Map<string, number>> {
  const r = await get(`${metrics}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return new Map([...samples(r.body)].filter(([k]) => k.startsWith('gsup_')));
}

/** The sum of every series of a metric in a scrape. */
function total(s: Map<string, number>, name: string): number {
  let n = 0;
  for (const [k, v] of s) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
}

test('a real Prometheus scrapes gsup until sum(gsup_http_requests_total) is the requests sent', async (t) => {
  const { app, metrics } = await served(t, ['-w', '2', 'slow.js']);
  const prom = await startPrometheus(t, metrics.replace('http://', ''));
  const sent = 57;
  await send(`${app}/slow?ms=5`, sent);
  let seen: number | null = null;
  await until(
    `Prometheus reports ${sent} requests`,
    async () => {
      seen = await prom.query('sum(gsup_http_requests_total)');
      return seen === sent;
    },
    90_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen ${seen}; prometheus said: ${prom.log()}`);
  });
  t.is(await prom.query('sum(gsup_http_requests_total{code="2xx"})'), sent);
  t.is(await prom.query('sum(gsup_worker_starts_total)'), 2);
  // The pool-wide p99 from the workers' own histograms: the requests took at least 5 ms each.
  let p99: number | null = null;
  await until(
    'histogram_quantile gives the pool p99',
    async () => {
      p99 = await prom.query(
        'histogram_quantile(0.99, sum by (le) (rate(gsup_http_request_duration_seconds_bucket[1m])))',
      );
      return p99 !== null && Number.isFinite(p99);
    },
    60_000,
  );
  t.true((p99 ?? 0) >= 0.004, `p99 ${p99} s for requests of 5 ms`);
});

test('promtool check metrics finds no problem in a scrape', async (t) => {
  const { app, metrics } = await served(t, ['-w', '2', 'slow.js']);
  await send(`${app}/`, 20);
  await until('the heartbeats counted them', async () => {
    return total(await scrape(metrics), 'gsup_http_requests_total') === 20;
  });
  const body = (await get(`${metrics}/metrics`)).body;
  t.true(body.includes('process_cpu_seconds_total'), "the supervisor's own process metrics");
  const lint = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(body);
  });
  t.is(lint.code, 0, lint.out);
  t.is(lint.out.trim(), '', 'no lint problems');
});

test('counters never go back when a worker is killed and replaced', async (t) => {
  const { g, app, metrics } = await served(t, ['-w', '2', 'slow.js']);
  await send(`${app}/slow?ms=2`, 40);
  let before = new Map<string, number>();
  await until('the heartbeats counted every request', async () => {
    before = await scrape(metrics);
    return total(before, 'gsup_http_requests_total') === 40;
  });
  const victim = g.readyPids()[0] ?? -1;
  const client = await ControlClient.connect(
    controlPath('default', null, { XDG_RUNTIME_DIR: g.runtimeDir }),
    'default',
  );
  t.teardown(() => client.close());
  t.like(await client.request({ cmd: 'kill', pid: victim }), { ok: true });
  await g.waitForEvent('worker-exit', (e) => e.pid === victim && e.cause === 'killed');
  await until('a replacement is ready', () => g.readyPids().length === 2);
  const after = await scrape(metrics);
  const counters = [...before].filter(([k]) => /_(total|bucket|count|sum)(\{|$)/.test(k));
  t.true(counters.length > 40, `${counters.length} counter series`);
  for (const [series, was] of counters) {
    const now = after.get(series);
    t.true(now !== undefined && now >= was, `${series}: ${was} before, ${now} after`);
  }
  t.is(after.get('gsup_worker_exits_total{reason="killed"}'), 1);
  t.is(after.get('gsup_worker_starts_total'), 3);
  // The killed slot still has its requests: they are the slot's, not the process's.
  t.is(total(after, 'gsup_http_requests_total'), 40);
  t.false(
    [...after.keys()].some((k) => k.includes('pid=')),
    'no pid label',
  );
});

test('/readyz is 503 from the start of a graceful stop while a held request drains; /healthz 200', async (t) => {
  const dir = tempDir(t, 'readyz');
  const gate = join(dir, 'release');
  const { g, app, metrics } = await served(t, [
    '-w',
    '2',
    '--graceful-timeout',
    '120',
    'holds-until-released.js',
  ]);
  const ready = await get(`${metrics}/readyz`);
  t.is(ready.status, 200, ready.body);
  t.is((await get(`${metrics}/healthz`)).status, 200);
  const held = get(`${app}/hold?until=${encodeURIComponent(gate)}`);
  await g.waitFor(/holding \d+/);
  g.child.kill('SIGTERM');
  await g.waitForEvent('stop-begin', (e) => !e.quick);
  const during = await get(`${metrics}/readyz`);
  t.is(during.status, 503, during.body);
  t.regex(during.body, /stopping/);
  t.is((await get(`${metrics}/healthz`)).status, 200, 'the supervisor still runs');
  // The held request was still in flight all along: it is answered only now, then gsup exits.
  t.is(g.countEvents('stopped'), 0);
  writeFileSync(gate, '');
  t.regex((await held).body, /^released /);
  t.is(await g.exited, 0);
});
