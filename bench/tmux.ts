// Runs gsup with its dashboard in a real terminal: a detached tmux session on a socket of its own
// (never a developer's server), read back with capture-pane. The supervisor's pid and port come
// from the dashboard header, as a person would read them: the dashboard has no event log to read.
//
// Stopping order matters: `tmux kill-server` sends SIGHUP to the pane, and gsup treats SIGHUP as
// a reload, so gsup is stopped explicitly first and the tmux server killed only after.

import { probe } from '../harness/http.js';
import { childPids, isAlive, killQuietly } from '../harness/procfs.js';
import { shellLine } from '../harness/shell.js';
import { TmuxServer } from '../harness/tmux.js';
import { pollUntil, sleep } from '../harness/wait.js';

export { hasTmux } from '../harness/tmux.js';

const BENCH_DIR = new URL('.', import.meta.url).pathname;
const GSUP = new URL('../bin/gsup.js', import.meta.url).pathname;
const BOOT_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 10_000;
/** How long the pane's shell lingers after gsup exits: enough to read an error off the screen. */
const LINGER_S = 30;

export interface TmuxSession {
  server: TmuxServer;
  command: string[];
  pid: number;
  panePid: number;
  port: number;
  workers: Set<number>;
}

/** Sessions not yet stopped, for the synchronous last-resort cleanup. */
const live = new Set<TmuxSession>();

/**
 * The shell line the pane runs: gsup with `workers` workers on hello.js, given relative to bench/
 * so the header (app name, then the address) fits the width.
 */
function paneShell(workers: number): string {
  const gsup = [process.execPath, GSUP, 'start', 'hello.js', '-w', String(workers)];
  return (
    // Its own runtime dir, so its control socket never meets another gsup named "default"; the
    // shell removes it once gsup is gone.
    `cd ${shellLine([BENCH_DIR])} && export XDG_RUNTIME_DIR="$(mktemp -d /tmp/gsup-bench-tmux-XXXXXX)" NCURSES_NO_UTF8_ACS=1; ` +
    `${shellLine([...gsup, '-b', '127.0.0.1:0'])}; ` +
    `echo "gsup exited with code $?"; rm -rf "$XDG_RUNTIME_DIR"; exec sleep ${LINGER_S}`
  );
}

/** The tmux argv that starts gsup with `workers` workers in a `cols`×`rows` terminal. */
export function tmuxCommand(
  server: TmuxServer,
  { workers, cols, rows }: { workers: number; cols: number; rows: number },
): string[] {
  return server.command(cols, rows, paneShell(workers));
}

/**
 * Starts gsup in a fresh tmux server and resolves once the dashboard shows all workers ready and
 * the port answers; cleans up if it fails.
 */
export async function startInTmux({
  workers,
  cols,
  rows,
}: {
  workers: number;
  cols: number;
  rows: number;
}): Promise<TmuxSession> {
  const server = new TmuxServer('cost');
  const session: TmuxSession = {
    server,
    command: tmuxCommand(server, { workers, cols, rows }),
    pid: 0,
    panePid: 0,
    port: 0,
    workers: new Set(),
  };
  live.add(session);
  let screen = '';
  try {
    server.start(cols, rows, paneShell(workers));
    session.panePid = server.panePid();
    const ready = new RegExp(`workers ${workers}/${workers} ready`);
    await pollUntil(
      `"workers ${workers}/${workers} ready" on the dashboard`,
      () => {
        screen = server.screen();
        if (/gsup exited with code/.test(screen))
          throw new Error('gsup exited before it was ready');
        return ready.test(screen);
      },
      { deadlineMs: BOOT_DEADLINE_MS, intervalMs: 100 },
    );
    session.pid = Number(/gsup \S+ \(pid (\d+)\)/.exec(screen)?.[1] ?? 0);
    session.port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(screen)?.[1] ?? 0);
    if (!session.pid || !session.port) throw new Error('no (pid N) or address in the header');
    // The header's pid must be the process the pane runs, or we would measure something else.
    if (!childPids(session.panePid).includes(session.pid)) {
      throw new Error(`pid ${session.pid} in the header is not the pane's gsup`);
    }
    await pollUntil(`"hello" on port ${session.port}`, () => probe(session.port), {
      deadlineMs: BOOT_DEADLINE_MS,
      intervalMs: 100,
    });
    for (const pid of childPids(session.pid)) session.workers.add(pid);
  } catch (err) {
    await stopTmux(session);
    (err as Error).message += `\n--- screen (tmux -S ${server.socket}) ---\n${screen.trimEnd()}`;
    throw err;
  }
  return session;
}

/** SIGTERM to gsup (graceful), SIGKILL past the deadline; then its workers; then tmux. */
export async function stopTmux(session: TmuxSession): Promise<void> {
  const supervisors = supervisorPids(session);
  for (const pid of supervisors) {
    for (const w of childPids(pid)) session.workers.add(w);
    killQuietly(pid, 'SIGTERM');
  }
  if (!(await gone(supervisors))) {
    for (const pid of supervisors) killQuietly(pid, 'SIGKILL');
    await gone(supervisors);
  }
  // Workers exit when their IPC channel to gsup closes; force any that have not by the deadline.
  const workers = [...session.workers];
  if (!(await gone(workers))) for (const pid of workers) killQuietly(pid, 'SIGKILL');
  session.server.kill();
  live.delete(session);
}

/** Synchronous last resort, safe from a process 'exit' handler: SIGKILL, then the tmux server. */
export function killAllTmux(): void {
  for (const session of live) {
    for (const pid of supervisorPids(session)) {
      for (const w of childPids(pid)) session.workers.add(w);
      killQuietly(pid, 'SIGKILL');
    }
    for (const pid of session.workers) killQuietly(pid, 'SIGKILL');
    session.server.kill();
    live.delete(session);
  }
}

/** The header's pid once known; before that, whatever the pane's shell is running (gsup). */
function supervisorPids(session: TmuxSession): number[] {
  if (session.pid) return [session.pid];
  return session.panePid ? childPids(session.panePid) : [];
}

/** Waits until none of `pids` is alive; false if some still are at the deadline. */
async function gone(pids: number[]): Promise<boolean> {
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
