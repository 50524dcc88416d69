// Issue 13, item 4: drains that long-lived connections can follow. A worker that starts draining
// emits `gsup:drain` on process; an app that listens closes its WebSockets (1001) and ends its
// event streams, and the worker exits as soon as its last connection has closed, so a reload
// completes long before graceful-timeout. An app that does not listen shows what happened before:
// its WebSocket is cut without a close frame (1006) once the graceful timeout runs out.

import http from 'node:http';
import test from 'ava';
import WebSocket from 'ws';
import { type Gsup, gsup } from './helpers.js';

/** Opens a WebSocket and resolves once the server's first message arrived, with how it closes. */
function openSocket(
  url: string,
): Promise<{ first: string; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    ws.once('error', reject);
    ws.once('message', (data) => resolve({ first: String(data), closed }));
  });
}

/** Opens the event stream and resolves once its first event arrived, with all it will carry. */
function openStream(
  url: string,
): Promise<{ first: string; ended: Promise<{ text: string; complete: boolean }> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let text = '';
      let announced = false;
      res.setEncoding('utf8');
      const ended = new Promise<{ text: string; complete: boolean }>((r) => {
        // 'close' fires for a clean end and a cut alike; `complete` tells them apart.
        res.once('close', () => r({ text, complete: res.complete }));
      });
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!announced && text.includes('\n\n')) {
          announced = true;
          resolve({ first: text, ended });
        }
      });
    });
    req.once('error', reject);
  });
}

async function startPool(t: Parameters<typeof gsup>[0], graceful: number, env = {}) {
  const g = gsup(
    t,
    [
      'start',
      'closes-streams-on-drain.js',
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
      '--graceful-timeout',
      String(graceful),
      '--no-tui',
    ],
    { env },
  );
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const [pid] = g.readyPids();
  if (pid === undefined) throw new Error('no ready worker');
  return { g, url, pid };
}

function oldExit(g: Gsup, pid: number) {
  return g.waitForEvent('worker-exit', (e) => e.pid === pid);
}

test('on gsup:drain the app closes its WebSocket with 1001 and ends its event stream, and the reload completes without waiting out graceful-timeout', async (t) => {
  // 60 s of grace, and every wait below is the harness's 30 s: the reload can only complete in
  // time if the old worker exits when its connections close, not when its grace runs out.
  const { g, url, pid } = await startPool(t, 60);
  const ws = await openSocket(url.replace('http:', 'ws:'));
  t.is(ws.first, `hello ${pid}`);
  const stream = await openStream(`${url}/events`);
  t.regex(stream.first, new RegExp(`^data: hello ${pid}\\n\\n`));

  const from = g.events.length;
  g.child.kill('SIGHUP');
  const closed = await ws.closed;
  t.is(closed.code, 1001, 'a close frame, not a cut (1006)');
  t.is(closed.reason, 'server restarting');
  const ended = await stream.ended;
  t.true(ended.complete, 'the stream ended with its last chunk, not cut');
  t.true(ended.text.endsWith(`data: bye ${pid}\n\n`));

  const exit = await oldExit(g, pid);
  t.is(exit.cause, 'drained');
  t.is(exit.code, 0);
  const end = await g.waitForEvent('reload-end', undefined, undefined, from);
  t.true(end.ok, end.message);
  t.is(end.outcome, 'done');
  t.is(g.countEvents('drain-overdue'), 0, 'nobody was SIGKILLed for overstaying');
  // The new worker serves both kinds of connection.
  const [fresh] = g.readyPids();
  t.not(fresh, pid);
  const again = await openSocket(url.replace('http:', 'ws:'));
  t.is(again.first, `hello ${fresh}`);
});

test('an app that does not listen for gsup:drain holds its worker until graceful-timeout, and its WebSocket is cut (1006)', async (t) => {
  const { g, url, pid } = await startPool(t, 2, { IGNORE_DRAIN: '1' });
  const ws = await openSocket(url.replace('http:', 'ws:'));
  const from = g.events.length;
  g.child.kill('SIGHUP');
  const overdue = await g.waitForEvent('drain-overdue', (e) => e.pid === pid, undefined, from);
  t.is(overdue.gracefulTimeoutS, 2);
  t.is((await ws.closed).code, 1006, 'no close frame: the connection died with the worker');
  const exit = await oldExit(g, pid);
  t.is(exit.signal, 'SIGKILL');
});
