// The core path: gsup serves an app from N workers that share one socket, and reports it.
import { writeFileSync } from 'node:fs';
import test from 'ava';
import { get, gsup, tempDir, until } from './helpers.js';

test('serves from N workers on the real port chosen for :0: each accepts from the shared socket', async (t) => {
  const g = gsup(t, [
    'start',
    'busy-until-released.js',
    '-w',
    '3',
    '-b',
    '127.0.0.1:0',
    '-t',
    '120',
  ]);
  const url = await g.url();
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(url, 'http://127.0.0.1:0');
  await g.waitForEvent('pool-ready', (e) => e.workers === 3);
  t.is(g.readyPids().length, 3);

  // Hold workers busy one at a time: a worker whose loop is blocked accepts nothing, so each next
  // connection can only be taken by a worker still free. Three busy pids show that all three
  // accept from the one queue, whatever order the kernel wakes them in.
  const release = `${tempDir(t, 'serve')}/release`;
  const replies: Array<Promise<{ status: number; body: string }>> = [];
  const busy = new Set<number>();
  for (let i = 1; i <= 3; i++) {
    replies.push(get(`${url}/busy?until=${encodeURIComponent(release)}`));
    await until(`${i} workers busy`, () => {
      for (const o of g.output) if (/^busy \d+$/.test(o.line)) busy.add(o.pid);
      return busy.size === i;
    });
  }
  writeFileSync(release, '');
  const pids = new Set<number>();
  for (const r of await Promise.all(replies)) {
    t.is(r.status, 200);
    pids.add(Number(r.body.trim().split(' ')[1]));
  }
  t.deepEqual([...pids].sort(), [...busy].sort());
  t.deepEqual([...pids].sort(), g.readyPids().sort());

  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
  t.truthy(g.events.find((e) => e.type === 'stopped'));
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
