// Starts a server setup in its own process group, waits until it really serves, and stops it.
// gsup runs with `--log-format json`, so its events arrive typed, with gsup's own times (ms);
// the baselines print the same two plain lines gsup's text log would. Every process started here
// is tracked so that `killAll` can clean up on any exit path.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { probe } from '../harness/http.js';
import { type EventOf, type EventType, PoolView, readLine, textOf } from '../harness/log.js';
import { isAlive, killQuietly } from '../harness/procfs.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { pollUntil, sleep } from '../harness/wait.js';

const BOOT_DEADLINE_MS = 15_000;
const STOP_DEADLINE_MS = 10_000;
/** Lifecycle events are waited for with this deadline (a reload of 16 workers under load). */
const EVENT_DEADLINE_MS = 60_000;
const POLL_MS = 50;

/** A line a server printed, as text, when it arrived. */
export interface TimedLine {
  text: string;
  at: number;
}

export interface Server {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  runtimeDir: string;
  port: number;
  /** The last lines it printed, as text, for error messages. */
  output: string[];
  /** Every line it printed (text view), for the baselines' own lines (pm2 home, gunicorn pid). */
  lines: TimedLine[];
  /** gsup's typed events, with gsup's own times; empty for the baselines. */
  pool: PoolView;
  /** Pids outside its process group: gsup's workers (they are spawned detached). */
  strays: Set<number>;
}

/** Servers not yet stopped. */
const live = new Set<Server>();

/**
 * Runs `argv` and resolves once it reported its address and that all workers are ready (gsup's
 * `listening` and `pool-ready` events, or the baselines' two lines) and answered one request with
 * the hello body. Rejects (after cleaning up) on a deadline.
 */
export async function startServer(
  name: string,
  argv: string[],
  { cwd, bootDeadlineMs = BOOT_DEADLINE_MS }: { cwd?: string; bootDeadlineMs?: number } = {},
): Promise<Server> {
  // A runtime dir of its own: gsup's control socket (named "default") must meet neither a
  // developer's gsup nor another run's. `gsup status` etc. reach it with the same variable.
  const runtimeDir = makeTempDir('bench-run');
  // detached: a group of its own, so one kill reaches the primary and all its children, and a
  // Ctrl-C meant for the runner does not hit the servers before the runner can stop them.
  // stdin is a pipe the baselines watch: it closes if this runner dies without cleaning up.
  const [file, ...args] = argv;
  const child = spawn(file ?? process.execPath, args, {
    cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const server: Server = {
    name,
    child,
    exited,
    runtimeDir,
    port: 0,
    output: [],
    lines: [],
    pool: new PoolView(),
    strays: new Set(),
  };
  live.add(server);

  let ready = false;
  const onLine = (raw: string) => {
    const line = readLine(raw);
    if (line.kind === 'event') {
      const e = line.event;
      server.pool.events.push(e);
      // gsup's workers run outside its process group: track them to stop them.
      if (e.type === 'worker-spawn') server.strays.add(e.pid);
      if (e.type === 'listening') server.port ||= Number(new URL(e.url).port);
      if (e.type === 'pool-ready') ready = true;
    }
    for (const text of textOf(line)) {
      server.lines.push({ text, at: line.kind === 'event' ? line.event.at : line.at });
      server.output.push(text);
      if (server.output.length > 50) server.output.shift();
      if (line.kind !== 'text') continue;
      // The baselines' lines (bench/servers/announce.js).
      const port = /^listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
      if (port) server.port = Number(port);
      if (/^all \d+ workers ready/.test(text)) ready = true;
    }
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);

  try {
    await untilUp(() => ready && server.port > 0, exited, `${name}: not ready`, bootDeadlineMs);
    await untilUp(
      () => probe(server.port),
      exited,
      `${name}: no "hello" on port ${server.port}`,
      bootDeadlineMs,
    );
  } catch (err) {
    await stopServer(server);
    (err as Error).message += `\n--- last output of ${name} ---\n${server.output.join('\n')}`;
    throw err;
  }
  return server;
}

/** Resolves with gsup's first event of `type` from index `from` that satisfies `predicate`. */
export function waitEvent<T extends EventType>(
  server: Server,
  type: T,
  predicate: (e: EventOf<T>) => boolean = () => true,
  from = 0,
): Promise<EventOf<T>> {
  return pollUntil(
    `a ${type} event from ${server.name}`,
    () => server.pool.find(type, predicate, from),
    {
      deadlineMs: EVENT_DEADLINE_MS,
      intervalMs: 5,
    },
  );
}

/** SIGTERM to the group (gsup drains gracefully on it), then SIGKILL past the deadline. */
export async function stopServer(server: Server): Promise<void> {
  const pid = server.child.pid ?? 0;
  signalGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), STOP_DEADLINE_MS);
  await server.exited;
  clearTimeout(timer);
  // A process group lives on while any member does (bare/cluster children): make sure it's gone.
  signalGroup(pid, 'SIGKILL');
  // gsup's workers exit when their IPC channel closes; give them the same deadline, then force.
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while ([...server.strays].some(isAlive) && Date.now() < deadline) await sleep(POLL_MS);
  kill(server);
}

/** Synchronous last resort, safe from a process 'exit' handler. */
export function killAll(): void {
  for (const server of live) kill(server);
}

function kill(server: Server): void {
  signalGroup(server.child.pid ?? 0, 'SIGKILL');
  for (const pid of server.strays) if (isAlive(pid)) killQuietly(pid, 'SIGKILL');
  removeDir(server.runtimeDir);
  live.delete(server);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid > 0) killQuietly(-pid, signal);
}

/** Polls `check` until it holds; fails at the deadline or as soon as the process exits. */
async function untilUp(
  check: () => boolean | Promise<boolean>,
  exited: Server['exited'],
  message: string,
  deadlineMs: number,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void exited.then((e) => {
    exit = e;
  });
  while (!(await check())) {
    const e = exit as { code: number | null; signal: NodeJS.Signals | null } | null;
    if (e) throw new Error(`${message}: it exited (${e.signal ?? `code ${e.code}`})`);
    if (Date.now() > deadline) throw new Error(`${message} within ${deadlineMs} ms`);
    await sleep(POLL_MS);
  }
}
