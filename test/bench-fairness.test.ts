// Issue 11: the throughput bench compares like with like. With keep-alive, how connections spread
// over the workers moves throughput by itself, so gsup (whose balance evens the spread) is held to
// `bare-even` (bare with the same even spread) and gsup-no-balance to bare. The floors are a pure
// rule; bare-even's spread is checked on real processes and sockets.

import http from 'node:http';
import test from 'ava';
import { type Server, startServer, stopServer } from '../bench/process.js';
import { ratios, type Summaries } from '../bench/report.js';
import { SETUPS } from '../bench/setups.js';
import type { Summary } from '../bench/stats.js';
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

test('with keep-alive, gsup is held to bare with the same spread, and still shown against bare', (t) => {
  const summaries: Summaries = {
    bare: both(1000, 500),
    'bare-even': both(950, 500),
    gsup: both(930, 490),
    'gsup-no-balance': both(980, 480),
  };
  const checks = ratios(summaries, ['keep-alive', 'close']);
  const find = (mode: string, ratio: string) =>
    checks.find((c) => c.mode === mode && c.ratio === ratio);

  const even = find('keep-alive', 'gsup/bare-even');
  t.is(even?.floor, 0.97);
  t.true(even?.pass);
  t.is(even?.value.toFixed(3), (930 / 950).toFixed(3));
  // The spreads differ: printed, with why it has no floor.
  const kernel = find('keep-alive', 'gsup/bare');
  t.is(kernel?.floor, null);
  t.regex(kernel?.note ?? '', /gsup\/bare-even/);
  t.is(find('keep-alive', 'gsup-no-balance/bare')?.floor, 0.97);
  t.true(find('keep-alive', 'gsup-no-balance/bare')?.pass);
  // With Connection: close every request is a new connection: no spread to hold, bare's floor.
  t.is(find('close', 'gsup/bare')?.floor, 0.97);
  t.true(find('close', 'gsup/bare')?.pass);
  t.false(find('close', 'gsup-no-balance/bare')?.pass);
});

test('without bare-even in the run, gsup is held to bare in both modes', (t) => {
  const checks = ratios({ bare: both(1000, 1000), gsup: both(900, 990) }, ['keep-alive', 'close']);
  t.deepEqual(
    checks.map((c) => [c.mode, c.ratio, c.floor, c.pass]),
    [
      ['keep-alive', 'gsup/bare', 0.97, false],
      ['close', 'gsup/bare', 0.97, true],
    ],
  );
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
