// Issue 11: a worker's connections are counted and listed by Node itself (net.Server's count and
// http.Server's list of its connections), not by gsup per connection. What the drain relies on,
// on real sockets and without a pool: the count (upgraded sockets included), the sweep that ends
// idle keep-alive connections but never one with a request in flight, a request still arriving or
// an upgraded socket, and the call when the last connection has closed.

import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { Traffic } from '../src/worker/traffic.js';
import { until } from './helpers.js';

/** A raw client: what it has read so far, and whether the server closed it. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const state = { text: '', ended: false };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    state.text += d;
  });
  socket.on('end', () => {
    state.ended = true;
  });
  socket.on('error', () => undefined);
  const connected = new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, state, connected };
}

test('draining: the sweep ends only idle keep-alive connections; in flight, half-sent and upgraded ones stay; the last close is reported', async (t) => {
  const traffic = new Traffic(() => undefined);
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      held.push(() => res.end('held'));
      return;
    }
    res.end('ok');
  });
  server.on('upgrade', (_req, socket: net.Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
    // The app's protocol: it closes its side when the client closes its own.
    socket.on('end', () => socket.end());
  });
  traffic.attach(server);
  traffic.countConnectionsOf([server]);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;

  const idle = rawClient(port);
  const busy = rawClient(port);
  const half = rawClient(port);
  const upgraded = rawClient(port);
  await Promise.all([idle.connected, busy.connected, half.connected, upgraded.connected]);
  idle.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  busy.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
  half.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  upgraded.socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
  await until('the idle client has its answer', () => idle.state.text.includes('ok'));
  await until('the held request reached the app', () => held.length === 1);
  await until('the upgrade answered', () => upgraded.state.text.includes('101'));
  await until('four connections counted', () => traffic.connections === 4);
  t.is(traffic.inFlight, 1);

  traffic.startDraining();
  net.Server.prototype.close.call(server);
  let noneLeft = false;
  traffic.whenNoConnections(() => {
    noneLeft = true;
  });
  // With idleMs 0, a connection is ended by the second sweep that sees it idle with nothing read.
  t.is(traffic.sweepIdle(0), 4, 'the first sweep only notes who is idle');
  t.is(traffic.sweepIdle(0), 4, 'ending is asynchronous: the count drops once they close');
  await until('the idle connection is ended', () => idle.state.ended);
  await until('it has closed', () => traffic.connections === 3);
  for (let i = 0; i < 3; i++) traffic.sweepIdle(0);
  t.false(busy.state.ended, 'a request in flight keeps its connection');
  t.false(half.state.ended, 'a request whose headers are still arriving keeps its connection');
  t.false(upgraded.state.ended, 'an upgraded socket is the app’s to close');
  t.false(noneLeft);

  // The held response arrived before the drain; its head had not gone out, so it says
  // Connection: close too, and its connection closes after it.
  held[0]?.();
  await until('the held response arrives and its connection ends', () => busy.state.ended);
  t.regex(busy.state.text, /^connection: close$/im);
  // The half-sent request completes: it is answered, with Connection: close, not reset.
  half.socket.write('\r\n');
  await until('the half-sent request is answered and ended', () => half.state.ended);
  t.regex(half.state.text, /^HTTP\/1\.1 200/);
  t.regex(half.state.text, /^connection: close$/im);
  await until('only the upgraded socket is left', () => traffic.connections === 1);
  t.false(noneLeft);
  upgraded.socket.end();
  await until('the last close is reported', () => noneLeft);
  t.is(traffic.connections, 0);
  t.is(traffic.requests, 3, 'the idle, held and half-sent requests (the upgrade is not a request)');
  t.deepEqual(traffic.status, [0, 3, 0, 0, 0]);
});

test('connections of every server the worker listens on are counted, not only the HTTP ones', async (t) => {
  const traffic = new Traffic(() => undefined);
  const app = http.createServer((_req, res) => res.end('ok'));
  // As gsup builds them for an app that exports its own server: an extra socket hands its
  // connections to the app's server.
  const extra = new net.Server((socket) => app.emit('connection', socket));
  traffic.attach(app);
  traffic.countConnectionsOf([app, extra]);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => extra.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    app.close();
    extra.close();
  });
  const a = rawClient((app.address() as net.AddressInfo).port);
  const b = rawClient((extra.address() as net.AddressInfo).port);
  await Promise.all([a.connected, b.connected]);
  b.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the extra socket’s request is answered by the app', () =>
    b.state.text.includes('ok'),
  );
  await until('both connections counted', () => traffic.connections === 2);
  t.is(traffic.requests, 1);
  a.socket.destroy();
  b.socket.destroy();
  await until('both closed', () => traffic.connections === 0);
});
