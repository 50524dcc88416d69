// The core path: gsup serves an app from N workers that share one socket, and reports it.
import test from 'ava';
import { get, gsup } from './helpers.js';

test('serves from N workers on the real port chosen for :0', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '3', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(url, 'http://127.0.0.1:0');
  await g.waitForEvent('pool-ready', (e) => e.workers === 3);
  t.is(g.readyPids().length, 3);

  const sent = 60;
  const pids = new Set<string>();
  // Slow responses in parallel so that more than one worker has to answer.
  const replies = await Promise.all(Array.from({ length: sent }, () => get(`${url}/slow?ms=50`)));
  for (const r of replies) {
    t.is(r.status, 200);
    pids.add(r.body.trim().split(' ')[1] ?? '');
  }
  t.true(pids.size >= 2, `answers came from ${pids.size} worker(s)`);
  for (const pid of pids) t.true(g.readyPids().includes(Number(pid)));

  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.regex(g.stdout(), /stopped/);
});

for (const [spec, body] of [
  ['cjs-app.cjs:handler', 'cjs'],
  ['factory.mjs:create()', 'factory'],
  ['koa-like.js', 'koa-like'],
] as const) {
  test(`loads the app shape ${spec}`, async (t) => {
    const g = gsup(t, ['start', spec, '-w', '1', '-b', '127.0.0.1:0', '--no-tui']);
    const url = await g.url();
    await g.waitForEvent('pool-ready', (e) => e.workers === 1);
    const r = await get(url);
    t.is(r.body, `${body}\n`);
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  });
}

test('worker output is piped through gsup, prefixed with slot and pid', async (t) => {
  // Text format: the `[wSLOT PID]` tags are what this test is about.
  const g = gsup(t, ['start', 'chatty.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'], {
    format: 'text',
  });
  const url = await g.url();
  await g.waitFor(/all 1 workers ready/);
  await get(`${url}/hello`);
  const pid = (await g.status()).workers.find((w) => w.state === 'ready')?.pid;
  await g.waitFor(new RegExp(`\\[w1 ${pid}\\] handling /hello`));
  await g.waitFor(new RegExp(`\\[w1 ${pid} err\\] warning about /hello`));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});
