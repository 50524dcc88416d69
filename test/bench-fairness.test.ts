// Issue 11: the throughput bench's ratios and floors (a pure rule), and its `bare-even` baseline
// (bare with the even keep-alive spread gsup's balance makes), checked on real processes and
// sockets: it must really spread the connections, or its figure would say nothing.

import http from 'node:http';
import test from 'ava';
import { type Server, startServer, stopServer } from '../bench/process.js';
import { ratios, type Summaries } from '../bench/report.js';
import { SETUPS } from '../bench/setups.js';
import { medianInterval, type Summary } from '../bench/stats.js';
import { childPids, connectionsByPid } from '../harness/procfs.js';
import { until } from './helpers.js';

const summary = (median: number): Summary => ({
  rounds: 5,
  rps: { median, min: median, max: median },
  p50Ms: 1,
  p99Ms: 2,
  socketErrors: 0,
  non2xx: 0,
});
const both = (keepAlive: number, close: number) => ({
  'keep-alive': summary(keepAlive),
  close: summary(close),
});

test('gsup is held to bare in both modes; bare-even, the same spread as gsup, is shown beside it', (t) => {
  const summaries: Summaries = {
    bare: both(1000, 500),
    'bare-even': both(950, 500),
    gsup: both(960, 490),
    'gsup-no-balance': both(980, 480),
  };
  const checks = ratios(summaries, ['keep-alive', 'close']);
  t.deepEqual(
    checks.map((c) => [c.mode, c.ratio, c.value.toFixed(3), c.floor, c.verdict]),
    [
      ['keep-alive', 'gsup/bare', '0.960', 0.97, 'fail'],
      ['keep-alive', 'gsup/bare-even', (960 / 950).toFixed(3), null, null],
      ['keep-alive', 'gsup-no-balance/bare', '0.980', 0.97, 'pass'],
      ['close', 'gsup/bare', '0.980', 0.97, 'pass'],
      ['close', 'gsup/bare-even', '0.980', null, null],
      ['close', 'gsup-no-balance/bare', '0.960', 0.97, 'fail'],
    ],
  );
});

test('baselines missing from the run are left out', (t) => {
  const checks = ratios({ bare: both(1000, 1000), gsup: both(900, 990) }, ['keep-alive', 'close']);
  t.deepEqual(
    checks.map((c) => [c.mode, c.ratio, c.floor, c.verdict]),
    [
      ['keep-alive', 'gsup/bare', 0.97, 'fail'],
      ['close', 'gsup/bare', 0.97, 'pass'],
    ],
  );
});

test('each ratio is also taken round by round, where the rounds are given', (t) => {
  const checks = ratios({ bare: both(100, 10), gsup: both(99, 10) }, ['keep-alive'], {
    bare: { 'keep-alive': [100, 50, 80] },
    gsup: { 'keep-alive': [99, 60, 72] },
  });
  const each = [0.99, 1.2, 0.9];
  t.deepEqual(checks[0]?.perRound, { median: 0.99, min: 0.9, max: 1.2, ...medianInterval(each) });
  // Rounds that do not pair up give no per-round figure.
  const unpaired = ratios({ bare: both(100, 10), gsup: both(99, 10) }, ['keep-alive'], {
    bare: { 'keep-alive': [100, 50] },
    gsup: { 'keep-alive': [99] },
  });
  t.is(unpaired[0]?.perRound, undefined);
});

test('with rounds, a floor is decided by the interval of the per-round ratio: undecided while it holds the floor', (t) => {
  const verdictOf = (gsup: number[], bare: number[]) =>
    ratios({ bare: both(100, 10), gsup: both(100, 10) }, ['keep-alive'], {
      bare: { 'keep-alive': bare },
      gsup: { 'keep-alive': gsup },
    })[0]?.verdict;
  const bare = [100, 100, 100, 100, 100, 100, 100];
  t.is(verdictOf([99, 100, 98, 101, 99, 100, 102], bare), 'pass');
  t.is(verdictOf([90, 91, 89, 92, 90, 91, 88], bare), 'fail');
  // A median above the floor is not enough when the rounds scatter across it.
  t.is(verdictOf([80, 99, 110, 90, 105, 85, 100], bare), 'undecided');
  // The ratio of the medians alone would have said pass here (100 / 100).
  t.is(ratios({ bare: both(100, 10), gsup: both(100, 10) }, ['keep-alive'])[0]?.verdict, 'pass');
});

test('bare-even: each bare worker ends up holding its share of the keep-alive connections', async (t) => {
  const setup = SETUPS.find((s) => s.name === 'bare-even');
  if (!setup) throw new Error('no bare-even setup');
  const connections = 16;
  let server: Server | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  try {
    server = await startServer(setup.name, setup.argv(2, connections));
    const { port } = server;
    const workers = childPids(server.child.pid ?? 0);
    t.is(workers.length, 2);
    let closes = 0;
    const request = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', path: '/', agent }, (res) => {
            if (res.headers.connection === 'close') closes++;
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
            );
          })
          .on('error', reject);
      });
    const spread = () => [...connectionsByPid(workers, port).values()].sort((a, b) => a - b);
    // All at once, as a client's pool opens: the kernel lands them as it likes.
    await Promise.all(Array.from({ length: connections }, request));
    const first = spread();
    await until('each worker holds 8 of the 16 connections', async () => {
      await Promise.all(Array.from({ length: connections }, request));
      return spread().join() === '8,8';
    });
    // Whatever the kernel did first, shedding is what evened it (or it was even already).
    t.true(closes > 0 || first.join() === '8,8', `first spread ${first}, closes ${closes}`);
    // Once even, nothing more is shed: a round of requests keeps every connection.
    const before = closes;
    await Promise.all(Array.from({ length: connections }, request));
    t.is(closes, before);
    t.deepEqual(spread(), [8, 8]);
  } finally {
    agent.destroy();
    if (server) await stopServer(server);
  }
});

test('the median interval holds the median, narrows with more rounds, and repeats itself', (t) => {
  t.deepEqual(medianInterval([0.98, 0.98, 0.98]), { low: 0.98, high: 0.98 });
  // A spread of rounds as this machine gives them: 0.70 to 1.30 around 1.00.
  const rounds = (n: number) => Array.from({ length: n }, (_, i) => 0.7 + (0.6 * i) / (n - 1));
  const few = medianInterval(rounds(11));
  const many = medianInterval(rounds(151));
  for (const ci of [few, many]) t.true(ci.low <= 1 && 1 <= ci.high, JSON.stringify(ci));
  t.true(many.high - many.low < few.high - few.low);
  t.deepEqual(medianInterval(rounds(11)), few);
});
