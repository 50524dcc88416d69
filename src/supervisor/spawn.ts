// Runs in the supervisor: starting one worker process. Everything about the process itself
// (node's spawn, the environment, setpriv, the inherited fds, splitting its output into lines) lives
// here, behind the `Spawner` type, so that the arbiter can be driven by a fake in tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SupervisorMessage, WorkerConfig } from '../ipc.js';

/** The supervisor's grip on a started process. */
export interface WorkerProcess {
  /** -1 until the process exists. */
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  /** Tells the worker a fact over its IPC channel; dropped if the channel is gone. */
  send?(msg: SupervisorMessage): void;
}

/** What happens to a started process, reported once each (output and messages many times). */
export interface WorkerProcessEvents {
  /** The process exists and has a pid. */
  spawned(): void;
  /** It could not be started at all (missing cwd, EAGAIN, EMFILE): no exit follows. */
  failed(err: Error): void;
  /** A raw IPC message, unchecked. */
  message(raw: unknown): void;
  line(stream: 'stdout' | 'stderr', line: string): void;
  /** It exited and its output has been read. */
  exited(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface SpawnRequest {
  /** What the worker runtime reads from GSUP_WORKER. */
  config: WorkerConfig;
  slot: number;
  nodeArgs: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  uid?: number;
  gid?: number;
  /** The supervisor's listening fds, handed down as fd 4, 5, ... */
  fds: readonly number[];
}

/** Starts a worker process and reports what happens to it. */
export type Spawner = (req: SpawnRequest, on: WorkerProcessEvents) => WorkerProcess;

/**
 * util-linux's setpriv sets the parent-death signal and execs node (same pid), so a worker dies
 * with the supervisor even when its event loop is blocked and it cannot see the IPC channel
 * close. Without it (not Linux, not installed) the IPC disconnect is the only guard.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

const RUNTIME = fileURLToPath(new URL('../worker/runtime.js', import.meta.url));

/** How long after a worker's exit its output may still arrive (a grandchild may hold the pipes). */
const OUTPUT_AFTER_EXIT_MS = 250;

/** The real spawner: a node process running the worker runtime, with --trace-sigint and --inspect-port=0. */
export const spawnNodeWorker: Spawner = (req, on) => {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.env)) if (v !== undefined) env[k] = v;
  // systemd's variables describe the supervisor's fds, not the worker's.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  env.GSUP_WORKER = JSON.stringify(req.config);
  env.GSUP_SLOT = String(req.slot);

  // --inspect-port=0: SIGUSR1 (the stuck-stack fallback) opens the inspector on a free port, so
  // workers never clash; a node flag of the user's that sets the inspector wins.
  const ownInspector = req.nodeArgs.some((a) => /^--(inspect|debug)/.test(a));
  const nodeArgv = [
    ...req.nodeArgs,
    '--trace-sigint',
    ...(ownInspector ? [] : ['--inspect-port=0']),
    RUNTIME,
  ];
  const [file, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', process.execPath, ...nodeArgv]]
    : [process.execPath, nodeArgv];
  // node's own spawn, not execa: execa's module graph alone cost the supervisor about 13 MB of
  // memory, and nothing here needs more than child_process gives.
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: req.cwd,
      env,
      // The listening sockets follow the IPC channel: fd 4, 5, ... in the worker.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...req.fds],
      // JSON lines, not structured clone: a worker that writes garbage to its channel fd must not
      // be able to make the supervisor's deserializer throw.
      serialization: 'json',
      // Own process group: Ctrl-C in the terminal reaches the supervisor only, which decides.
      detached: true,
      ...(req.uid !== undefined ? { uid: req.uid } : {}),
      ...(req.gid !== undefined ? { gid: req.gid } : {}),
    });
  } catch (err) {
    // Most spawn failures arrive as 'error'; the rest (EPERM for a uid, E2BIG) throw here.
    queueMicrotask(() => on.failed(err as Error));
    return { pid: -1, kill: () => undefined };
  }
  const proc: WorkerProcess = {
    get pid() {
      return child.pid ?? -1;
    },
    kill(signal) {
      if (child.pid === undefined) return;
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone; the exit report follows
      }
    },
    send(msg) {
      // The callback takes a failed send (channel closing) instead of an 'error' event.
      if (child.connected) child.send(msg, undefined, {}, () => undefined);
    },
  };
  let started = false;
  let ended = false;
  const exitOnce = (code: number | null, signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    on.exited(code, signal);
  };
  child.once('spawn', () => {
    started = true;
    on.spawned();
  });
  // Kept for the process's life: a later error (a failed kill, a broken channel) with no listener
  // would throw in the supervisor.
  child.on('error', (err: Error) => {
    if (started || ended) return;
    ended = true;
    on.failed(err);
  });
  child.once('exit', (code, signal) => {
    // Report once stdout/stderr are drained (a timed-out worker's stack arrives last), but do not
    // wait on a grandchild that inherited them.
    child.once('close', () => exitOnce(code, signal));
    setTimeout(() => exitOnce(code, signal), OUTPUT_AFTER_EXIT_MS);
  });
  child.on('message', (raw: unknown) => on.message(raw));
  child.stdout?.on(
    'data',
    lineSplitter((line) => on.line('stdout', line)),
  );
  child.stderr?.on(
    'data',
    lineSplitter((line) => on.line('stderr', line)),
  );
  return proc;
};

/** Splits a stream into lines, cutting any line longer than `max` so a flood cannot grow memory. */
export function lineSplitter(
  onLine: (line: string) => void,
  max = 16 * 1024,
): (chunk: Buffer) => void {
  let rest = '';
  return (chunk) => {
    rest += chunk.toString('utf8');
    let nl = rest.indexOf('\n');
    while (nl !== -1) {
      onLine(rest.slice(0, nl).replace(/\r$/, ''));
      rest = rest.slice(nl + 1);
      nl = rest.indexOf('\n');
    }
    while (rest.length > max) {
      onLine(`${rest.slice(0, max)}…`);
      rest = rest.slice(max);
    }
  };
}
