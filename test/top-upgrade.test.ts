// `gsup top` across an upgrade of gsup itself: in a real terminal (tmux), against a headless
// instance, USR2. The old supervisor's connection closes when it exits; the view must move to the
// new one (its keys too) instead of saying the instance stopped, and end only on a real stop.

import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FOLLOW_TIMEOUT_MS, RemoteFeed } from '../dist/cli/remote-feed.js';
import { ControlClient } from '../dist/control/client.js';
import { lineReader } from '../dist/control/protocol.js';
import { type EventBody, stamp } from '../dist/events.js';
import {
  FIXTURES,
  type Gsup,
  gsup,
  gsupVerb,
  tempDir,
  until,
  upgradeUntilOldExits,
} from './helpers.js';
import { tmuxAvailable, tmuxGsup } from './tmux-session.js';

/** The supervisor pid the dashboard's header names (its first line). */
function headerPid(screen: string): number {
  return Number(/\(pid (\d+)\)/.exec(screen.split('\n')[0] ?? '')?.[1] ?? 0);
}

/** `gsup status --json` of the instance: which pid answers its control socket, and how many workers are ready. */
async function status(g: Gsup): Promise<{ pid: number; ready: number }> {
  const r = await gsupVerb(['status', '--json'], { XDG_RUNTIME_DIR: g.runtimeDir });
  if (r.code !== 0) throw new Error(`gsup status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { pid: number; ready: number };
}

test('gsup top follows an upgrade (USR2) to the new supervisor, its keys act there, and a stop ends it saying so', async (t) => {
  if (!tmuxAvailable(t)) return;
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  await g.url();
  await g.waitForEvent('pool-ready');
  const oldPid = g.pid;
  const session = tmuxGsup(t, {
    name: 'top-upgrade',
    cwd: FIXTURES,
    args: ['top', '--control', join(g.runtimeDir, 'gsup', 'default.sock')],
    cols: 150,
    rows: 30,
  });
  await session.waitScreen(
    'the old supervisor on screen',
    (s) => headerPid(s) === oldPid && /workers 2\/2 ready/.test(s),
  );

  // The old supervisor's exit closes the connection `gsup top` had.
  const newPid = await upgradeUntilOldExits(t, g);
  const moved = await session.waitScreen(
    'the new supervisor on screen, saying it took over',
    (s) =>
      headerPid(s) === newPid &&
      s.includes(`this gsup (pid ${newPid}) now answers the control socket`) &&
      /workers 2\/2 ready/.test(s),
  );
  t.notRegex(moved, /closed the connection|gsup exit code/);

  // A key pressed now, after the old connection closed, acts on the new supervisor.
  session.tmux('send-keys', '-t', 'main', '-l', '+');
  await session.waitScreen('3 ready workers on screen', /workers 3\/3 ready/);
  const now = await status(g);
  t.is(now.pid, newPid);
  t.is(now.ready, 3);

  // A plain stop ends the view, saying the instance stopped (not that an upgrade lost it).
  const stop = await gsupVerb(['stop'], { XDG_RUNTIME_DIR: g.runtimeDir });
  t.is(stop.code, 0, stop.stderr);
  const after = await session.waitScreen('gsup top exited', /gsup exit code \d+/);
  t.regex(after, /gsup top: the server closed the connection \(it stopped\)\s+gsup exit code 0/);
});

/** One stand-in supervisor's reply to a request, then what it says on the stream. */
function answer(
  id: number,
  result: unknown,
  stream: EventBody[] = [],
  snapshot: { pid: number; events: EventBody[] } | null = { pid: 1, events: [] },
): string {
  const lines = [
    { v: 1, id, ok: true, result },
    ...(snapshot
      ? [
          {
            v: 1,
            type: 'snapshot',
            snapshot: { ...snapshot, events: snapshot.events.map((e) => stamp(e)) },
          },
        ]
      : []),
    ...stream.map((body) => ({ v: 1, type: 'event', event: stamp(body) })),
  ];
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('');
}

/**
 * A stand-in supervisor on a real unix socket at `path`: answers each request with
 * `respond(id, cmd)`. With `then`, it answers the first request only and gives up the path (its
 * socket file goes), and either hangs up (`end`, as a supervisor that exits) or keeps the
 * connection and says nothing more (`keep`, as an old supervisor draining after an upgrade).
 */
async function standIn(
  t: ExecutionContext,
  path: string,
  respond: (id: number, cmd: string) => string,
  then?: 'end' | 'keep',
): Promise<void> {
  const server = net.createServer((conn) => {
    conn.setEncoding('utf8');
    let answered = false;
    const reader = lineReader((line) => {
      if (answered && then) return;
      answered = true;
      const { id, cmd } = JSON.parse(line) as { id: number; cmd: string };
      if (then === 'end') conn.end(respond(id, cmd));
      else conn.write(respond(id, cmd));
      if (then) server.close();
    });
    conn.on('data', (chunk: string) => reader.push(chunk));
  });
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => server.listen(path, resolve));
}

/** A socket path in a temp folder of the test's, for a stand-in supervisor. */
function fakePath(t: ExecutionContext): string {
  return join(tempDir(t, 'top-follow'), 'fake.sock');
}

/** The view `gsup top` opens on the stand-in at `path`, following it (closed at teardown). */
async function feedOn(t: ExecutionContext, path: string): Promise<RemoteFeed> {
  const feed = await RemoteFeed.open(await ControlClient.connect(path, 'fake'), {
    path,
    name: 'fake',
  });
  t.teardown(() => feed.close());
  return feed;
}

/** A stand-in that says `said` on the stream after its snapshot, then exits. */
async function saysThenGoes(t: ExecutionContext, said: EventBody[]): Promise<string> {
  const path = fakePath(t);
  await standIn(t, path, (id) => answer(id, null, said), 'end');
  return path;
}

test('gsup top: a close after the stream said the instance stops ends the view without looking for a new supervisor', async (t) => {
  const path = await saysThenGoes(t, [{ type: 'stop-begin', quick: false, gracefulTimeoutS: 30 }]);
  t.is(
    await (await feedOn(t, path)).ended,
    'gsup top: the server closed the connection (it stopped)',
  );
});

test('gsup top: a close mid-upgrade with no gsup answering the path within the bound ends the view saying it stopped', async (t) => {
  const path = await saysThenGoes(t, [
    { type: 'upgrade-start', newPid: 999_999, sockets: 1, deadlineS: 30 },
  ]);
  t.is(
    await (await feedOn(t, path)).ended,
    `gsup top: the instance was upgrading, but no gsup answered at ${path} within ${FOLLOW_TIMEOUT_MS / 1000}s (it stopped)`,
  );
});

test('a request on a control connection that has closed is refused at once, not left unanswered', async (t) => {
  const path = await saysThenGoes(t, []);
  const client = await ControlClient.connect(path, 'fake');
  const closed = new Promise<void>((resolve) => client.once('close', resolve));
  t.true((await client.request({ cmd: 'subscribe' })).ok);
  await closed;
  t.deepEqual(await client.request({ cmd: 'status' }), {
    v: 0,
    ok: false,
    error: 'the connection to gsup is closed',
  });
});

test('gsup top: a key pressed while the view moves to the new supervisor of an upgrade acts on the new one', async (t) => {
  const path = fakePath(t);
  // The old supervisor says the upgrade is done, gives up the path and answers nothing more.
  const upgraded: EventBody[] = [
    { type: 'upgrade-start', newPid: 999_998, sockets: 1, deadlineS: 30 },
    { type: 'upgrade-done', oldPid: 1, newPid: 999_998, seconds: 1 },
  ];
  await standIn(t, path, (id) => answer(id, null, upgraded), 'keep');
  const feed = await feedOn(t, path);
  // Pressed before the new supervisor answers at the path.
  const reply = feed.request({ cmd: 'status' });
  await until('the old supervisor to give up the path', () => !existsSync(path));
  await standIn(t, path, (id, cmd) =>
    cmd === 'subscribe' ? answer(id, null) : answer(id, { from: 'new' }, [], null),
  );
  const r = await reply;
  t.true(r.ok);
  t.deepEqual(r.ok && r.result, { from: 'new' });
});

test('gsup top opened mid-upgrade follows it: the kept events say one is under way when the old supervisor goes', async (t) => {
  const path = fakePath(t);
  // The old supervisor started its upgrade before this view connected, then exits.
  const started: EventBody = { type: 'upgrade-start', newPid: 999_997, sockets: 1, deadlineS: 30 };
  await standIn(t, path, (id) => answer(id, null, [], { pid: 1, events: [started] }), 'end');
  const feed = await feedOn(t, path);
  await until('the old supervisor to give up the path', () => !existsSync(path));
  await standIn(t, path, (id) => answer(id, null, [], { pid: 2, events: [] }));
  await until('the view to move to the new supervisor', () => feed.snapshot().pid === 2);
  t.is(feed.snapshot().pid, 2);
});
