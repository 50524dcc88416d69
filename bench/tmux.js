// Runs gsup with its dashboard in a real terminal: a detached tmux session on a socket of its own
// (never a developer's server), read back with capture-pane. The supervisor's pid and port come
// from the dashboard header, as a person would read them.
//
// Stopping order matters: `tmux kill-server` sends SIGHUP to the pane, and gsup treats SIGHUP as
// a reload, so gsup is stopped explicitly first and the tmux server killed only after.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { probe } from './process.js';
import { alive, childPids, safeKill } from './procfs.js';
import { shellLine } from './results.js';
import { pollUntil, sleep } from './wait.js';

const BENCH_DIR = new URL('.', import.meta.url).pathname;
const GSUP = new URL('../bin/gsup.js', import.meta.url).pathname;
const BOOT_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 10_000;
/** How long the pane's shell lingers after gsup exits: enough to read an error off the screen. */
const LINGER_S = 30;

/** Sessions not yet stopped, for the synchronous last-resort cleanup. */
const live = new Set();

export function hasTmux() {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The tmux argv that starts gsup with `workers` workers in a `cols`×`rows` terminal. The app
 * is given relative to bench/, so the header (app name, then the address) fits the width.
 * `-f /dev/null`: a developer's ~/.tmux.conf must not change the terminal measured.
 */
export function tmuxCommand({ socket, workers, cols, rows }) {
  const gsup = [process.execPath, GSUP, 'start', 'hello.js', '-w', String(workers)];
  const shell =
    // Its own runtime dir, so its control socket never meets another gsup named "default".
    `cd ${shellLine([BENCH_DIR])} && XDG_RUNTIME_DIR="$(mktemp -d)" NCURSES_NO_UTF8_ACS=1 ` +
    `${shellLine([...gsup, '-b', '127.0.0.1:0'])}; ` +
    `echo "gsup exited with code $?"; exec sleep ${LINGER_S}`;
  return [
    'tmux',
    '-L',
    socket,
    '-f',
    '/dev/null',
    'new-session',
    '-d',
    '-s',
    'main',
    '-x',
    String(cols),
    '-y',
    String(rows),
    shell,
  ];
}

/**
 * Starts gsup in a fresh tmux server and resolves once the dashboard shows all workers ready and
 * the port answers. Resolves with { socket, pid, port, command }; cleans up if it fails.
 */
export async function startInTmux({ workers, cols, rows }) {
  const socket = `gsup-cost-${process.pid}-${randomBytes(4).toString('hex')}`;
  const command = tmuxCommand({ socket, workers, cols, rows });
  const session = {
    socket,
    socketPath: null,
    command,
    pid: null,
    panePid: null,
    port: null,
    workers: new Set(),
  };
  live.add(session);
  let screen = '';
  try {
    execFileSync(command[0], command.slice(1), { stdio: 'ignore' });
    session.socketPath = tmux(socket, 'display-message', '-p', '#{socket_path}').trim();
    session.panePid = Number(tmux(socket, 'list-panes', '-t', 'main', '-F', '#{pane_pid}').trim());
    const ready = new RegExp(`workers ${workers}/${workers} ready`);
    await pollUntil(
      `"workers ${workers}/${workers} ready" on the dashboard`,
      () => {
        screen = capture(socket);
        if (/gsup exited with code/.test(screen)) {
          throw new Error('gsup exited before it was ready');
        }
        return ready.test(screen);
      },
      { deadlineMs: BOOT_DEADLINE_MS },
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
    });
    for (const pid of childPids(session.pid)) session.workers.add(pid);
  } catch (err) {
    await stopTmux(session);
    err.message += `\n--- screen (tmux -L ${socket}) ---\n${screen.trimEnd()}`;
    throw err;
  }
  return session;
}

/** SIGTERM to gsup (graceful), SIGKILL past the deadline; then its workers; then tmux. */
export async function stopTmux(session) {
  const supervisors = supervisorPids(session);
  for (const pid of supervisors) {
    for (const w of childPids(pid)) session.workers.add(w);
    safeKill(pid, 'SIGTERM');
  }
  if (!(await gone(supervisors))) {
    for (const pid of supervisors) safeKill(pid, 'SIGKILL');
    await gone(supervisors);
  }
  // Workers exit when their IPC channel to gsup closes; force any that have not by the deadline.
  const workers = [...session.workers];
  if (!(await gone(workers))) for (const pid of workers) safeKill(pid, 'SIGKILL');
  killServer(session);
  live.delete(session);
}

/** Synchronous last resort, safe from a process 'exit' handler: SIGKILL, then the tmux server. */
export function killAllTmux() {
  for (const session of live) {
    for (const pid of supervisorPids(session)) {
      for (const w of childPids(pid)) session.workers.add(w);
      safeKill(pid, 'SIGKILL');
    }
    for (const pid of session.workers) safeKill(pid, 'SIGKILL');
    killServer(session);
    live.delete(session);
  }
}

/** The header's pid once known; before that, whatever the pane's shell is running (gsup). */
function supervisorPids(session) {
  if (session.pid) return [session.pid];
  return session.panePid ? childPids(session.panePid) : [];
}

/** Waits until none of `pids` is alive; false if some still are at the deadline. */
async function gone(pids) {
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function killServer(session) {
  try {
    execFileSync('tmux', ['-L', session.socket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // No server on that socket (never started, or it exited with its last session).
  }
  // tmux 3.3 leaves its socket file behind; one per run would pile up in /tmp/tmux-UID/.
  if (session.socketPath) rmSync(session.socketPath, { force: true });
}

function capture(socket) {
  return tmux(socket, 'capture-pane', '-p', '-t', 'main');
}

function tmux(socket, ...args) {
  return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
}
