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
  /** Says something over the channel; lost if the worker is gone or its channel is closed. */
  send(msg: SupervisorMessage): void;
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
  /** The supervisor's listening fds, handed down as fd 3, 4, ... (systemd's numbering). */
  /** More fds, handed down after the channel (fd 4+N, ...): gsup's stdout for `--access-log -`. */
  extraFds?: readonly number[];
  fds: readonly number[];
  /** What runs in the worker (docs/worker-protocol.md); node when absent. */
  workerClass?: WorkerClass;
  /** The interpreter for wsgi workers. */
  python?: string;
  /** exec: a line of the program's output that means it is ready; null: ready after a grace. */
  readyPattern?: string | null;
}

/** The kinds of worker gsup can run: its own Node runtime, its own Python WSGI worker, any program. */
export type WorkerClass = 'node' | 'wsgi' | 'exec';

/** Starts a worker process and reports what happens to it. */
export type Spawner = (req: SpawnRequest, on: WorkerProcessEvents) => WorkerProcess;

/**
 * util-linux's setpriv sets the parent-death signal and execs node (same pid), so a worker dies
 * with the supervisor even when its event loop is blocked and it cannot see the IPC channel
 * close. Without it (not Linux, not installed) the IPC disconnect is the only guard.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

const RUNTIME = fileURLToPath(new URL('../worker/runtime.js', import.meta.url));
/** The Python WSGI worker, shipped in the package (python/ at its root). */
export const WSGI_WORKER = fileURLToPath(new URL('../../python/gsup_wsgi.py', import.meta.url));

/** How long after a worker's exit its output may still arrive (a grandchild may hold the pipes). */
const OUTPUT_AFTER_EXIT_MS = 250;

/** The spawner gsup uses: one variant per worker class. */
export const spawnWorkerProcess: Spawner = (req, on) => {
  switch (req.workerClass ?? 'node') {
    case 'wsgi':
      return spawnWsgiWorker(req, on);
    case 'exec':
      return spawnExecWorker(req, on);
    default:
      return spawnNodeWorker(req, on);
  }
};

/** The real spawner: a node process running the worker runtime, with --trace-sigint and --inspect-port=0. */
export const spawnNodeWorker: Spawner = (req, on) => {
  // --inspect-port=0: SIGUSR1 (the stuck-stack fallback) opens the inspector on a free port, so
  // workers never clash; a node flag of the user's that sets the inspector wins.
  const ownInspector = req.nodeArgs.some((a) => /^--(inspect|debug)/.test(a));
  const nodeArgv = [
    ...req.nodeArgs,
    '--trace-sigint',
    ...(ownInspector ? [] : ['--inspect-port=0']),
    RUNTIME,
  ];
  return startProcess(req, on, [process.execPath, ...nodeArgv], {});
};

/** A Python process running gsup's WSGI worker (python/gsup_wsgi.py, standard library only). */
export const spawnWsgiWorker: Spawner = (req, on) =>
  // -u: the stuck stack and the app's prints reach the log as they are written.
  startProcess(req, on, [req.python ?? 'python3', '-u', WSGI_WORKER], {});

/**
 * Any program that accepts on fd 3 (or reads LISTEN_FDS). sh sets LISTEN_PID to its own pid and
 * execs the program in place, so LISTEN_PID is the program's pid as systemd's sd_listen_fds wants.
 */
export const spawnExecWorker: Spawner = (req, on) => {
  const argv = splitCommand(req.config.app);
  const line = [SH, '-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', 'gsup-worker', ...argv];
  // A program that speaks the protocol is heard as is; for one that does not, readiness is its
  // output matching --ready-pattern (or a grace period), and its heartbeat is being alive.
  let spoke = false;
  let ready = false;
  let alive = true;
  const pattern = req.readyPattern ? new RegExp(req.readyPattern) : null;
  const sayReady = () => {
    if (spoke || ready || !alive) return;
    ready = true;
    on.message({ t: 'ready', listening: [] });
  };
  let beat: NodeJS.Timeout | undefined;
  let grace: NodeJS.Timeout | undefined;
  return startProcess(
    req,
    {
      spawned: () => {
        on.spawned();
        beat = setInterval(() => {
          if (!spoke && alive) on.message({ t: 'alive' });
        }, req.config.heartbeatMs);
        if (!pattern) grace = setTimeout(sayReady, EXEC_READY_GRACE_MS);
      },
      failed: (err) => {
        alive = false;
        on.failed(err);
      },
      message: (raw) => {
        spoke = true;
        on.message(raw);
      },
      line: (stream, text) => {
        on.line(stream, text);
        if (pattern?.test(text)) sayReady();
      },
      exited: (code, signal) => {
        alive = false;
        clearInterval(beat);
        clearTimeout(grace);
        on.exited(code, signal);
      },
    },
    argv.length ? line : [SH, '-c', 'exit 3'],
    {},
  );
};

/** An exec worker that does not speak the protocol and has no --ready-pattern is ready once alive this long. */
export const EXEC_READY_GRACE_MS = 1000;

const SH = ['/bin/sh', '/usr/bin/sh'].find((p) => existsSync(p)) ?? 'sh';

/** Splits a command line into words: whitespace separates, '...' and "..." quote, \\ escapes. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * Starts one worker process with gsup's fd layout (docs/worker-protocol.md): 0 /dev/null, 1 and 2
 * pipes to the supervisor, the listening sockets from fd 3 (LISTEN_FDS), then the channel
 * (NODE_CHANNEL_FD, newline-delimited JSON).
 */
function startProcess(
  req: SpawnRequest,
  on: WorkerProcessEvents,
  argv: string[],
  extraEnv: Record<string, string>,
): WorkerProcess {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.env)) if (v !== undefined) env[k] = v;
  // systemd's variables, as sd_listen_fds(3) reads them, describe the worker's own fds.
  env.LISTEN_FDS = String(req.fds.length);
  env.LISTEN_FDNAMES = req.fds.map(() => 'gsup').join(':');
  // LISTEN_PID is the worker's own pid: the node and wsgi runtimes set it themselves, sh does for exec.
  delete env.LISTEN_PID;
  // systemd's notify socket and watchdog are the supervisor's: a worker must not say READY=1.
  delete env.NOTIFY_SOCKET;
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  env.GSUP_WORKER = JSON.stringify(req.config);
  env.GSUP_SLOT = String(req.slot);
  Object.assign(env, extraEnv);
  const [file, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', ...argv]]
    : [argv[0] as string, argv.slice(1)];
  // node's own spawn, not execa: execa's module graph alone cost the supervisor about 13 MB of
  // memory, and nothing here needs more than child_process gives.
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: req.cwd,
      env,
      // The listening sockets from fd 3 (systemd's SD_LISTEN_FDS_START), the channel after them.
      stdio: ['ignore', 'pipe', 'pipe', ...req.fds, 'ipc', ...(req.extraFds ?? [])],
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
    return { pid: -1, kill: () => undefined, send: () => undefined };
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
      if (!child.connected) return;
      // An error here is a channel closing under us: the exit report follows.
      child.send(msg, (err) => void err);
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
}

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
