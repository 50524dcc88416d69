// Issue 13, item 3: the keep-alive balance rule without a pool. The share each worker is told
// (pure), when the supervisor tells it (Balancer), the message's check on arrival, and what a
// worker's Traffic does with a share: close exactly its excess, once, on real keep-alive sockets.

import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { parseSupervisorMessage, type SupervisorMessage } from '../src/ipc.js';
import { Balancer, connectionShares } from '../src/supervisor/balance.js';
import { Traffic } from '../src/worker/traffic.js';
import { until } from './helpers.js';

test('each worker is told the ready count and what the others hold', (t) => {
  t.deepEqual(connectionShares([51, 13], true), [
    { t: 'share', workers: 2, peers: 13 },
    { t: 'share', workers: 2, peers: 51 },
  ]);
  t.deepEqual(connectionShares([0, 0, 0], true), [
    { t: 'share', workers: 3, peers: 0 },
    { t: 'share', workers: 3, peers: 0 },
    { t: 'share', workers: 3, peers: 0 },
  ]);
  // --no-balance: workers 0 switches shedding off.
  t.deepEqual(connectionShares([40, 2], false), [
    { t: 'share', workers: 0, peers: 0 },
    { t: 'share', workers: 0, peers: 0 },
  ]);
  t.deepEqual(connectionShares([], true), []);
});

test('the balancer tells a worker its share after each of its reports and when the share changes, never twice the same', (t) => {
  const sent: Array<[number, SupervisorMessage]> = [];
  const worker = (id: number) => ({ id, send: (m: SupervisorMessage) => sent.push([id, m]) });
  const b = new Balancer();
  const pool = [worker(1), worker(2)];
  b.update(pool, true);
  t.deepEqual(sent, [
    [1, { t: 'share', workers: 2, peers: 0 }],
    [2, { t: 'share', workers: 2, peers: 0 }],
  ]);
  sent.length = 0;
  b.update(pool, true);
  t.deepEqual(sent, [], 'nothing new: nothing sent');
  b.report(1, 40);
  b.update(pool, true);
  // Worker 1 reported (a new round for it); worker 2's share changed (peers 0 → 40).
  t.deepEqual(sent, [
    [1, { t: 'share', workers: 2, peers: 0 }],
    [2, { t: 'share', workers: 2, peers: 40 }],
  ]);
  sent.length = 0;
  b.report(1, 40);
  b.update(pool, true);
  t.deepEqual(
    sent,
    [[1, { t: 'share', workers: 2, peers: 0 }]],
    'the same count again: a new round',
  );
  sent.length = 0;
  // A worker scaled in: everyone's count changes.
  b.update([...pool, worker(3)], true);
  t.deepEqual(sent, [
    [1, { t: 'share', workers: 3, peers: 0 }],
    [2, { t: 'share', workers: 3, peers: 40 }],
    [3, { t: 'share', workers: 3, peers: 40 }],
  ]);
  sent.length = 0;
  b.update(pool, false);
  t.deepEqual(sent, [
    [1, { t: 'share', workers: 0, peers: 0 }],
    [2, { t: 'share', workers: 0, peers: 0 }],
  ]);
});

test('a worker accepts only a well-formed share', (t) => {
  t.deepEqual(parseSupervisorMessage({ t: 'share', workers: 2, peers: 30 }), {
    t: 'share',
    workers: 2,
    peers: 30,
  });
  for (const bad of [
    null,
    'share',
    { t: 'share', workers: -1, peers: 0 },
    { t: 'share', workers: 2, peers: 1.5 },
    { t: 'share', workers: '2', peers: 0 },
    { t: 'share', workers: 2 },
    { t: 'other', workers: 2, peers: 0 },
  ]) {
    t.is(parseSupervisorMessage(bad), null, JSON.stringify(bad));
  }
});

/** A keep-alive client connection that sends GETs one at a time and reads each whole response. */
function client(port: number): Promise<{ get(): Promise<string>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let waiting: ((head: string) => void) | null = null;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n\r\n');
      // The fixture answers "ok" with a Content-Length: a head and 2 bytes make a response.
      if (end !== -1 && buffer.length >= end + 4 + 2 && waiting) {
        const head = buffer.slice(0, end);
        buffer = buffer.slice(end + 6);
        const w = waiting;
        waiting = null;
        w(head);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        get: () =>
          new Promise<string>((r) => {
            waiting = r;
            socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          }),
        closed,
      }),
    );
  });
}

test("a worker above its share closes exactly its excess, once per share, on the responses' own Connection: close", async (t) => {
  const traffic = new Traffic(() => undefined);
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Length', '2');
    res.end('ok');
  });
  traffic.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(Array.from({ length: 6 }, () => client(port)));
  await until('the server tracks 6 connections', () => traffic.connections === 6);

  // No share yet: nothing is shed.
  for (const c of clients) t.regex(await c.get(), /keep-alive/i);
  // 6 here, 2 elsewhere, 2 workers: the share is ceil(8 / 2) = 4, so 2 go.
  traffic.setShare(2, 2);
  const heads: string[] = [];
  for (const c of clients) heads.push(await c.get());
  const closing = heads.filter((h) => /^connection: close$/im.test(h)).length;
  t.is(closing, 2);
  t.is(traffic.shed, 2);
  await until('the 2 shed connections close', () => traffic.connections === 4);
  // The budget is spent: the connections left are kept until the next share.
  const left = clients.filter((_, i) => !/^connection: close$/im.test(heads[i] ?? ''));
  for (const c of left) t.regex(await c.get(), /keep-alive/i);
  // At its share, or with balance off, a worker sheds nothing.
  traffic.setShare(2, 4);
  for (const c of left) t.regex(await c.get(), /keep-alive/i);
  traffic.setShare(0, 0);
  for (const c of left) t.regex(await c.get(), /keep-alive/i);
  t.is(traffic.shed, 2);
});
