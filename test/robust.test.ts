// Issue 11, items 3–5: stuck stacks when the app listens for SIGINT (the inspector fallback),
// connections made during start-up queue instead of being refused, and stray signals are ignored.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { establishedOn, socketInodes } from '../harness/procfs.js';
import { captureStack, formatFrames } from '../src/supervisor/inspector-stack.js';
import { type Gsup, get, gsup, tempDir, until } from './helpers.js';

type JsonEvent = Record<string, unknown> & { type: string; message: string };

/** The events of one type so far, in order (the harness follows gsup's JSON log). */
function events(g: Gsup, type: string): JsonEvent[] {
  return g.events.filter((e) => e.type === type) as unknown as JsonEvent[];
}

/** Waits for the first event of `type` (optionally matching `where`) and returns it. */
async function waitEvent(
  g: Gsup,
  type: string,
  where: (e: JsonEvent) => boolean = () => true,
): Promise<JsonEvent> {
  let found: JsonEvent | undefined;
  await until(`gsup logs a ${type} event`, () => {
    found = events(g, type).find(where);
    return found !== undefined || g.child.exitCode !== null;
  });
  if (!found) throw new Error(`gsup exited before a ${type} event:\n${g.lines.join('\n')}`);
  return found;
}

/** Fires a request that will never be answered (the worker spins); its failure is expected. */
function fireAndForget(url: string): void {
  get(url, undefined, 60_000).catch(() => undefined);
}

/**
 * Starts one worker of `app` with a 1 s timeout and hangs it on /spin: resolves with its exit
 * event, and `replaced()` checks that a new worker then serves and gsup stops cleanly.
 */
async function spinUntilKilled(t: ExecutionContext, app: string) {
  const g = gsup(t, ['start', app, '-w', '1', '-t', '1', '-b', '127.0.0.1:0', '--no-tui']);
  const url = String((await waitEvent(g, 'listening')).url);
  const first = await waitEvent(g, 'worker-ready');
  fireAndForget(`${url}/spin`);
  const exit = await waitEvent(g, 'worker-exit', (e) => e.pid === first.pid);
  const replaced = async () => {
    const next = await waitEvent(g, 'worker-ready', (e) => e.pid !== first.pid);
    t.is((await get(url)).body, `ok ${next.pid}\n`);
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  };
  return { exit, replaced };
}

// ---- item 3: the stuck stack through the inspector ------------------------------------------

test('an app that listens for SIGINT and spins: the timeout shows its stuck function (inspector), and it is replaced', async (t) => {
  const { exit, replaced } = await spinUntilKilled(t, 'traps-sigint-then-spins.js');
  t.is(exit.cause, 'timeout');
  t.regex(
    String(exit.where),
    // The frames are in `stack`; the line names the innermost function and how it was caught.
    /^stuck in spinsWithSigintTrapped \(paused through the inspector\)$/,
  );
  const stack = exit.stack as string[];
  t.regex(
    stack[0] ?? '',
    /^spinsWithSigintTrapped \(file:.*traps-sigint-then-spins\.js:\d+:\d+\)$/,
  );
  t.true(
    stack.some((f) => f.startsWith('app (')),
    'the caller is in the stack too',
  );
  await replaced();
});

test('when the inspector cannot help either (the app traps SIGUSR1 too), the timeout still ends in SIGKILL and a replacement', async (t) => {
  const { exit, replaced } = await spinUntilKilled(t, 'traps-sigint-and-usr1-then-spins.js');
  t.is(exit.cause, 'timeout');
  t.is(exit.signal, 'SIGKILL');
  t.regex(String(exit.where), /^no stack: the app listens for SIGINT/);
  await replaced();
});

test('captureStack never rejects: a refused port, a server that never answers, a non-loopback URL all give null', async (t) => {
  // A port nothing listens on: bind one, learn its number, close it.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  t.is(await captureStack(`ws://127.0.0.1:${closedPort}/x`, 5000), null);

  // Accepts TCP and then says nothing: the deadline ends it, and the socket is closed.
  const held: net.Socket[] = [];
  let closedByPeer = 0;
  const silent = net.createServer((s) => {
    held.push(s);
    s.resume();
    s.once('close', () => closedByPeer++);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  const silentPort = (silent.address() as net.AddressInfo).port;
  t.is(await captureStack(`ws://127.0.0.1:${silentPort}/x`, 300), null);
  await until(
    'the capture closed its socket',
    () => held.length > 0 && closedByPeer === held.length,
  );

  // A line on a worker's stderr is not a reason to dial out.
  t.is(await captureStack('ws://192.0.2.1:9229/x', 5000), null);
  t.is(await captureStack('not a url', 5000), null);
});

test('formatFrames writes frames as --trace-sigint does: fn (file:line:col), 1-based', (t) => {
  const scripts = new Map([['7', 'file:///app/server.js']]);
  t.deepEqual(
    formatFrames(
      [
        { functionName: 'spin', location: { scriptId: '7', lineNumber: 9, columnNumber: 2 } },
        { functionName: '', location: { scriptId: '7', lineNumber: 0, columnNumber: 0 } },
        {
          functionName: 'emit',
          url: 'node:events',
          location: { lineNumber: 535, columnNumber: 34 },
        },
      ],
      scripts,
    ),
    ['spin (file:///app/server.js:10:3)', 'file:///app/server.js:1:1', 'emit (node:events:536:35)'],
  );
});

// ---- item 4: connections made during start-up queue ---------------------------------------------

/** Connects and sends one GET by hand; resolves once connected, with the reply to come. */
function connectAndGet(
  opts: net.NetConnectOpts,
): Promise<{ socket: net.Socket; reply: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(opts);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const reply = new Promise<string>((res, rej) => {
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => {
          text += c;
        });
        socket.once('end', () => res(text));
        socket.once('error', rej);
      });
      resolve({ socket, reply });
    });
  });
}

test('a client that connects right after the bind waits in the backlog and is answered once the worker is ready; gsup never accepts it', async (t) => {
  const dir = tempDir(t, 'queue');
  const gate = `${dir}/gate`;
  const g = gsup(
    t,
    [
      'start',
      'boots-when-gate-opens.js',
      '-w',
      '1',
      '-b',
      '127.0.0.1:0',
      '--backlog',
      '1234',
      '--no-tui',
    ],
    { env: { GATE_FILE: gate } },
  );
  const url = await g.url();
  const port = Number(new URL(url).port);
  // The only worker waits at its gate: nothing has called listen() in a worker yet.
  await g.waitFor(/booting worker 1/);
  t.is(g.readyPids().length, 0);
  const { socket, reply } = await connectAndGet({ host: '127.0.0.1', port });
  t.teardown(() => socket.destroy());
  const client = socket.address() as net.AddressInfo;
  // The server side of our connection sits in the accept queue: nobody (inode 0) has accepted it.
  await until('the kernel lists our connection', () =>
    establishedOn(port).some((c) => c.remotePort === client.port),
  );
  const queued = establishedOn(port).find((c) => c.remotePort === client.port);
  t.is(queued?.inode, '0', 'not accepted by anyone while the worker boots');
  for (const c of establishedOn(port)) {
    t.false(socketInodes(g.pid).has(c.inode), 'gsup holds no accepted connection');
  }
  t.is(g.readyPids().length, 0, 'still no worker ready: the connection waited in the backlog');
  // The configured backlog, set by the supervisor's listen before any worker (ss: Send-Q).
  const ss = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  t.regex(ss, /^LISTEN\s+\d+\s+1234\s/m);

  writeFileSync(gate, '');
  const text = await reply;
  await g.waitFor(/worker 1 \(pid \d+\) ready/);
  const [pid] = g.readyPids();
  t.regex(text, /^HTTP\/1\.1 200 /);
  t.true(text.endsWith(`ok ${pid}\n`));
  // The worker's own listen keeps the configured backlog.
  const after = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  t.regex(after, /^LISTEN\s+\d+\s+1234\s/m);
  for (const c of establishedOn(port)) t.false(socketInodes(g.pid).has(c.inode));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

test('a unix socket listens at once too: a client during start-up is answered once the worker is ready', async (t) => {
  const dir = tempDir(t, 'queue-unix');
  const gate = `${dir}/gate`;
  const path = `${dir}/app.sock`;
  const g = gsup(
    t,
    ['start', 'boots-when-gate-opens.js', '-w', '1', '-b', `unix:${path}`, '--no-tui'],
    {
      env: { GATE_FILE: gate },
    },
  );
  await g.waitFor(/listening at unix:/);
  await g.waitFor(/booting worker 1/);
  const { socket, reply } = await connectAndGet({ path });
  t.teardown(() => socket.destroy());
  t.is(g.readyPids().length, 0, 'connected while no worker was ready');
  writeFileSync(gate, '');
  const text = await reply;
  t.regex(text, /^HTTP\/1\.1 200 /);
  await g.waitFor(/worker 1 \(pid \d+\) ready/);
  t.true(text.endsWith(`ok ${g.readyPids()[0]}\n`));
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});

// ---- item 5: stray signals ----------------------------------------------------------------------

test('stray WINCH, PIPE, ALRM and VTALRM are ignored on purpose: gsup keeps serving, the alarms are warnings', async (t) => {
  const g = gsup(t, [
    'start',
    'misbehaves-on-request.js',
    '-w',
    '1',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ]);
  const url = String((await waitEvent(g, 'listening')).url);
  const ready = await waitEvent(g, 'worker-ready');
  const strays: NodeJS.Signals[] = ['SIGWINCH', 'SIGPIPE', 'SIGALRM', 'SIGVTALRM'];
  for (const signal of strays) {
    g.child.kill(signal);
    const e = await waitEvent(g, 'signal-ignored', (x) => x.signal === signal);
    t.is(e.level, signal === 'SIGWINCH' || signal === 'SIGPIPE' ? 'debug' : 'warn');
  }
  const alarm = events(g, 'signal-ignored').find((e) => e.signal === 'SIGALRM');
  t.regex(String(alarm?.message), /SIGALRM, ignored: gsup sets no alarm/);
  t.is(g.child.exitCode, null);
  // Still serving, by the same worker: nothing was restarted.
  t.is((await get(url)).body, `ok ${ready.pid}\n`);
  t.is(events(g, 'worker-exit').length, 0);
  g.child.kill('SIGTERM');
  t.is(await g.exited, 0);
});
