// Issue 11: a worker's connections are counted and listed by Node itself (net.Server's count and
// http.Server's list of its connections), not by gsup per connection. What the drain relies on,
// on real sockets and without a pool: the count (upgraded sockets included), the sweep that ends
// idle keep-alive connections but never one with a request in flight, a request still arriving or
// an upgraded socket, and the call when the last connection has closed.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { Traffic } from '../src/worker/traffic.js';
import { until } from './helpers.js';

/** A Traffic counting the requests and connections of one server, as a worker's runtime does. */
function counted(server: http.Server | https.Server): Traffic {
  const traffic = new Traffic(() => undefined);
  traffic.attach(server);
  traffic.countConnectionsOf([server]);
  return traffic;
}

/** Listens on an ephemeral loopback port and resolves with it. */
async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

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

/**
 * A counted `server` with one client connected that sends nothing: resolves once the server
 * counts it. The client is destroyed when the test ends.
 */
async function silentClient(
  t: ExecutionContext,
  server: http.Server | https.Server,
): Promise<{ traffic: Traffic; client: ReturnType<typeof rawClient> }> {
  const traffic = counted(server);
  const client = rawClient(await listening(server));
  t.teardown(() => client.socket.destroy());
  await client.connected;
  await until('it is counted', () => traffic.connections === 1);
  return { traffic, client };
}

test('draining: the sweep ends only idle keep-alive connections; in flight, half-sent and upgraded ones stay; the last close is reported', async (t) => {
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
  const traffic = counted(server);
  const port = await listening(server);
  t.teardown(() => server.close());

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
  const appPort = await listening(app);
  const extraPort = await listening(extra);
  t.teardown(() => {
    app.close();
    extra.close();
  });
  const a = rawClient(appPort);
  const b = rawClient(extraPort);
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

/**
 * Drains as the worker runtime does (stop accepting, then sweep every 100 ms in the check phase)
 * and resolves once no connection and no request is left, or after `giveUpMs` with false.
 */
async function drain(
  traffic: Traffic,
  servers: net.Server[],
  idleMs: number,
  giveUpMs = 5000,
): Promise<boolean> {
  traffic.startDraining();
  for (const s of servers) if (s.listening) net.Server.prototype.close.call(s);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearInterval(sweeper);
      clearTimeout(giveUp);
      resolve(ok);
    };
    const sweeper = setInterval(() => {
      setImmediate(() => {
        if (traffic.sweepIdle(idleMs) === 0 && traffic.inFlight === 0) done(true);
      });
    }, 100);
    const giveUp = setTimeout(() => done(false), giveUpMs);
  });
}

const answers = (text: string) => text.match(/answer \/\w/g) ?? [];

test('draining: pipelined requests in flight when the drain starts are all answered, and the drain ends', async (t) => {
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    held.push(() => res.end(`answer ${req.url}\n`));
  });
  const traffic = counted(server);
  const client = rawClient(await listening(server));
  t.teardown(() => client.socket.destroy());
  await client.connected;
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('both requests reached the app', () => held.length === 2);
  const drained = drain(traffic, [server], 300);
  for (const answer of held) answer();
  t.true(await drained, 'the drain ends');
  t.deepEqual(answers(client.state.text), ['answer /a', 'answer /b']);
  t.is(traffic.inFlight, 0);
});

test('draining: requests pipelined on a connection during the drain are all answered', async (t) => {
  const server = http.createServer((req, res) => {
    setTimeout(() => res.end(`answer ${req.url}\n`), 50);
  });
  const traffic = counted(server);
  const client = rawClient(await listening(server));
  t.teardown(() => client.socket.destroy());
  await client.connected;
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the first answer', () => answers(client.state.text).length === 1);
  const drained = drain(traffic, [server], 1000);
  client.socket.write(
    'GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  t.true(await drained, 'the drain ends');
  t.deepEqual(answers(client.state.text), ['answer /a', 'answer /b', 'answer /c', 'answer /d']);
  t.regex(
    client.state.text.slice(client.state.text.lastIndexOf('HTTP/1.1')),
    /^connection: close$/im,
  );
  t.is(traffic.inFlight, 0);
});

test('keep-alive balance: a shed connection whose client pipelines gets every answer', async (t) => {
  const server = http.createServer((req, res) => {
    setTimeout(() => res.end(`answer ${req.url}\n`), 50);
  });
  const traffic = counted(server);
  const port = await listening(server);
  t.teardown(() => server.close());
  const other = rawClient(port);
  const client = rawClient(port);
  t.teardown(() => {
    other.socket.destroy();
    client.socket.destroy();
  });
  await Promise.all([other.connected, client.connected]);
  await until('two connections', () => traffic.connections === 2);
  traffic.setShare(4, 0);
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the connection is closed', () => client.state.ended);
  t.deepEqual(answers(client.state.text), ['answer /a', 'answer /b']);
  t.is(traffic.shed, 1);
  await until('no request left in flight', () => traffic.inFlight === 0);
});

test('draining: a connection that never sent a byte (a preconnect) is closed like an idle one', async (t) => {
  const server = http.createServer((_req, res) => res.end('ok'));
  const { traffic, client } = await silentClient(t, server);
  t.true(await drain(traffic, [server], 300), 'the drain ends');
  t.true(client.state.ended);
});

test('draining: an ended response still being written to a slow client is not cut', async (t) => {
  const size = 16 * 1024 * 1024;
  let serverSide: net.Socket | null = null;
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Length', size);
    res.end(Buffer.alloc(size, 97));
  });
  server.on('connection', (s: net.Socket) => {
    serverSide = s;
  });
  const traffic = counted(server);
  // Paused: the client reads nothing until it listens for data, so most of the body stays in
  // the worker's write buffer after the app has ended its response.
  const socket = net.connect(await listening(server), '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the app has ended its response', () => traffic.requests === 1);
  traffic.startDraining();
  net.Server.prototype.close.call(server);
  // With idleMs 0 a connection the sweep takes for idle is ended by its second look.
  for (let i = 0; i < 3; i++) traffic.sweepIdle(0);
  t.false(
    (serverSide as net.Socket | null)?.writableEnded ?? true,
    'the sweep leaves a response that is still being written alone',
  );
  let received = 0;
  socket.on('data', (d: Buffer) => {
    received += d.length;
  });
  await until('the client has it all or was cut', () => socket.destroyed || received > size);
  t.true(received > size, `the client received ${received} bytes of a ${size}-byte body`);
  t.true(await drain(traffic, [server], 200), 'the drain ends');
});

test('draining: an HTTPS connection still in its TLS handshake does not hold the drain', async (t) => {
  // No certificate: no handshake can complete, and this client never starts one.
  const server = https.createServer({}, (_req, res) => res.end('ok'));
  const { traffic, client } = await silentClient(t, server);
  t.true(await drain(traffic, [server], 300), 'the drain ends');
  await until('it is closed', () => client.state.ended || client.socket.destroyed);
});

test('draining: a request pipelined behind a response whose Connection: close is already out leaves nothing in flight', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url !== '/a') return;
    res.writeHead(200, { 'Content-Length': 10 });
    res.write('answer');
    setTimeout(() => res.end(' /a\n'), 200);
  });
  const traffic = counted(server);
  const client = rawClient(await listening(server));
  t.teardown(() => client.socket.destroy());
  await client.connected;
  const drained = drain(traffic, [server], 1000);
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('its head, with Connection: close, is out', () =>
    /connection: close/i.test(client.state.text),
  );
  // Too late for the client to learn it: Node hands /b to the app, and never answers it.
  client.socket.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  t.true(await drained, 'the drain ends');
  t.deepEqual(seen, ['/a', '/b']);
  t.is(traffic.inFlight, 0);
});

test('a pipelined request whose body the app read before its turn is counted once, when answered', async (t) => {
  let bClosed = false;
  const server = http.createServer((req, res) => {
    if (req.url === '/a') setTimeout(() => res.end('answer /a\n'), 200);
    else {
      req.on('close', () => {
        bClosed = true;
      });
      req.resume().on('end', () => res.end('answer /b\n'));
    }
  });
  const traffic = counted(server);
  const client = rawClient(await listening(server));
  t.teardown(() => {
    client.socket.destroy();
    server.close();
  });
  await client.connected;
  client.socket.write(
    'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
  );
  await until('both reached the app', () => traffic.requests === 2);
  // Its body read, /b's request closes while its response still waits behind /a's.
  await until("/b's request has closed", () => bClosed);
  t.is(traffic.inFlight, 2, '/b waits for its turn behind /a');
  await until('both answered', () => answers(client.state.text).length === 2);
  await until('none in flight', () => traffic.inFlight === 0);
  t.deepEqual(traffic.status, [0, 2, 0, 0, 0]);
});
