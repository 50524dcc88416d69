// Runs in the supervisor: upgrading gsup itself (USR2, `gsup upgrade`), as Unicorn, Gunicorn and
// nginx do it. The old supervisor starts a new one (the gsup now on disk, same command line) that
// inherits the listening sockets, so the kernel's queue is never closed; the new one adopts them
// instead of binding, boots its workers, and says when they are all ready. The old one then tells
// it to take over (the control socket, the pidfile), and once it has, drains its own workers and
// exits. If the new one cannot get its workers ready, it is stopped and the old one keeps serving.
//
// Both sides of the handover live here: what travels in the environment (GSUP_UPGRADE) and the
// messages on the new supervisor's IPC channel (fd 3; the sockets follow as fd 4, 5, ...).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { exitHow } from '../events.js';
import { formatBind, type Listener } from './listener.js';

/** The environment variable that tells a gsup it is the new one of an upgrade, and what it inherits. */
export const UPGRADE_ENV = 'GSUP_UPGRADE';

/** The first inherited socket's fd in the new supervisor: fd 3 is its channel to the old one. */
const FIRST_SOCKET_FD = 4;

/** How to start the new supervisor: the gsup command line this one was started with. */
export interface Reexec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
}

/** The front end's answer to "can gsup upgrade now?": how to start the new one, or why not. */
export type ReexecProvider = () => Reexec | string;

/** What the new supervisor inherits, read from its environment. */
export interface Inheritance {
  /** The old supervisor's pid. */
  from: number;
  /** The inherited fd for each socket, by the bind as written (`127.0.0.1:0`, `unix:/run/a.sock`). */
  sockets: Map<string, number>;
  /** The worker count the old pool had (a count set at run time survives the upgrade). */
  target: number;
}

/** What GSUP_UPGRADE carries. */
interface UpgradeEnv {
  from: number;
  sockets: Array<{ bind: string; fd: number }>;
  target: number;
}

/** The new supervisor's messages to the old one. */
export type SuccessorMessage =
  /** Every worker it wants is ready. */
  | { t: 'ready' }
  /** A worker of its failed to boot (the reason the old one gives if the upgrade fails). */
  | { t: 'boot-error'; error: string }
  /** It cannot serve and is exiting. */
  | { t: 'failed'; reason: string }
  /** It answers the control socket now (and owns the pidfile). */
  | { t: 'took-over' };

/** The old supervisor's one message to the new one. */
export type PredecessorMessage = { t: 'take-over' };

/**
 * Reads (and removes, so that no worker and no later upgrade inherits it) what an upgrade handed
 * this process. Returns null when this gsup was started normally, or a one-line error.
 */
export function takeInheritance(
  env: Record<string, string | undefined>,
  pid = process.pid,
): Inheritance | null | string {
  const raw = env[UPGRADE_ENV];
  if (raw === undefined) return null;
  delete env[UPGRADE_ENV];
  let parsed: UpgradeEnv;
  try {
    parsed = JSON.parse(raw) as UpgradeEnv;
  } catch {
    return `${UPGRADE_ENV}: expected what an upgrading gsup sets, got ${JSON.stringify(raw.slice(0, 60))}; unset it`;
  }
  const fine =
    Number.isInteger(parsed?.from) &&
    Number.isInteger(parsed?.target) &&
    Array.isArray(parsed?.sockets) &&
    parsed.sockets.every((s) => typeof s?.bind === 'string' && Number.isInteger(s?.fd));
  if (!fine) {
    return `${UPGRADE_ENV}: expected what an upgrading gsup sets, got ${JSON.stringify(raw.slice(0, 60))}; unset it`;
  }
  // systemd named the old pid for its sockets and its watchdog; once this process takes over (the
  // notifier sends MAINPID=), both are this one's.
  if (env.LISTEN_FDS && Number(env.LISTEN_PID) === parsed.from) env.LISTEN_PID = String(pid);
  if (Number(env.WATCHDOG_PID) === parsed.from) env.WATCHDOG_PID = String(pid);
  return {
    from: parsed.from,
    target: parsed.target,
    sockets: new Map(parsed.sockets.map((s) => [s.bind, s.fd])),
  };
}

/** Closes inherited sockets that the new config no longer binds. Returns their binds. */
export function closeUnadopted(inheritance: Inheritance): string[] {
  const left = [...inheritance.sockets];
  for (const [, fd] of left) {
    try {
      closeSync(fd);
    } catch {
      // not open: nothing to close
    }
  }
  inheritance.sockets.clear();
  return left.map(([bind]) => bind);
}

/** What happens to a started successor, each reported once (boot errors many times). */
export interface SuccessorEvents {
  ready(): void;
  bootError(error: string): void;
  failed(reason: string): void;
  tookOver(): void;
  /** It exited, or could not be started at all (`error`). */
  exited(code: number | null, signal: NodeJS.Signals | null, error?: Error): void;
}

/** The old supervisor's grip on the new one. */
export interface Successor {
  readonly pid: number;
  /** Tells it to take over. */
  takeOver(): void;
  /** Signals it (TERM to call it off, KILL when it does not go). */
  kill(signal: NodeJS.Signals): void;
  /** Lets go of it once it has taken over: it must outlive us. */
  release(): void;
}

/** Checks a message from the new supervisor; anything else is ignored. */
function successorMessage(raw: unknown): SuccessorMessage | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  if (m.t === 'ready' || m.t === 'took-over') return { t: m.t };
  if (m.t === 'boot-error' && typeof m.error === 'string') return { t: m.t, error: m.error };
  if (m.t === 'failed' && typeof m.reason === 'string') return { t: m.t, reason: m.reason };
  return null;
}

/**
 * Starts the new supervisor. It shares our stdout and stderr and our process group (a Ctrl-C or a
 * service manager's signal reaches it as it reaches us), and it is started without a parent-death
 * signal, so our exit does not end it.
 */
export function spawnSuccessor(
  reexec: Reexec,
  sockets: readonly Listener[],
  target: number,
  on: SuccessorEvents,
): Successor {
  const handed: UpgradeEnv = {
    from: process.pid,
    target,
    sockets: sockets.map((l, i) => ({ bind: formatBind(l.spec), fd: FIRST_SOCKET_FD + i })),
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(reexec.env)) if (v !== undefined) env[k] = v;
  env[UPGRADE_ENV] = JSON.stringify(handed);
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
    if (ended) return;
    ended = true;
    on.exited(code, signal, error);
  };
  let child: ChildProcess;
  try {
    child = spawn(reexec.file, reexec.args, {
      cwd: reexec.cwd,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...sockets.map((l) => l.fd)],
      // JSON lines: nothing the new process writes can make our deserializer throw.
      serialization: 'json',
    });
  } catch (err) {
    queueMicrotask(() => end(null, null, err as Error));
    return { pid: -1, takeOver: () => undefined, kill: () => undefined, release: () => undefined };
  }
  child.on('error', (err) => {
    // A failed spawn has no pid; later errors (a send on a closed channel) change nothing.
    if (child.pid === undefined) end(null, null, err);
  });
  child.once('exit', (code, signal) => end(code, signal));
  child.on('message', (raw: unknown) => {
    const msg = successorMessage(raw);
    if (!msg) return;
    if (msg.t === 'ready') on.ready();
    else if (msg.t === 'boot-error') on.bootError(msg.error);
    else if (msg.t === 'failed') on.failed(msg.reason);
    else on.tookOver();
  });
  return {
    get pid() {
      return child.pid ?? -1;
    },
    takeOver() {
      if (child.connected) child.send({ t: 'take-over' } satisfies PredecessorMessage);
    },
    kill(signal) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(child.pid, signal);
      } catch {
        // gone already
      }
    },
    release() {
      if (child.connected) child.disconnect();
      child.unref();
    },
  };
}

/** How an upgrade ended, as its door replies. */
export interface UpgradeResult {
  ok: boolean;
  message: string;
  newPid: number | null;
}

/** What an upgrade run needs from the arbiter. */
export interface UpgradeHost {
  /** Emits an upgrade event; returns its line. */
  say(
    body:
      | { type: 'upgrade-start'; newPid: number; sockets: number; deadlineS: number }
      | { type: 'upgrade-done'; oldPid: number; newPid: number; seconds: number }
      | { type: 'upgrade-failed'; oldPid: number; newPid: number | null; reason: string },
  ): string;
  /** The pool can still hand over (not stopping). */
  canHandOver(): boolean;
  /** The new supervisor serves: let go of the sockets (their files stay) and drain. */
  handOver(): void;
  /** The run is over, either way. */
  ended(): void;
}

/**
 * One upgrade, from the new supervisor's start to its takeover or its end. The arbiter holds at
 * most one; while it runs, reloads and scaling are refused (their effect would not reach the new
 * pool).
 */
export class UpgradeRun {
  readonly result: Promise<UpgradeResult>;
  /** Take-over was sent: the sockets' files belong to the new supervisor from now on. */
  committed = false;
  private readonly successor: Successor;
  private readonly startedAt = performance.now();
  private resolve!: (r: UpgradeResult) => void;
  private lastBootError: string | null = null;
  private failure: string | null = null;
  private deadline: NodeJS.Timeout | null;
  private killTimer: NodeJS.Timeout | null = null;
  private over = false;

  constructor(
    private readonly host: UpgradeHost,
    reexec: Reexec,
    sockets: readonly Listener[],
    target: number,
    deadlineS: number,
    graceS: number,
  ) {
    this.result = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.successor = spawnSuccessor(reexec, sockets, target, {
      ready: () => {
        if (this.over || this.committed) return;
        if (!this.host.canHandOver()) return;
        this.committed = true;
        this.successor.takeOver();
      },
      bootError: (error) => {
        this.lastBootError = error;
      },
      failed: (reason) => {
        this.failure ??= reason;
      },
      tookOver: () => this.done(),
      exited: (code, signal, error) => {
        if (error) this.failure = `cannot start the new gsup: ${error.message}`;
        this.fail(this.failure ?? this.exitReason(code, signal));
      },
    });
    const pid = this.successor.pid;
    if (pid > 0) {
      this.host.say({ type: 'upgrade-start', newPid: pid, sockets: sockets.length, deadlineS });
    }
    this.deadline = setTimeout(() => {
      this.failure ??= `the new gsup's workers were not all ready within ${deadlineS}s${this.lastBootError ? ` (last boot error: ${this.lastBootError})` : ''}`;
      this.callOff(graceS);
    }, deadlineS * 1000);
  }

  /** The new supervisor's pid (-1 if it could not be started). */
  get newPid(): number {
    return this.successor.pid;
  }

  /** Calls the upgrade off (gsup is stopping): the new supervisor stops too, unless it is taking over. */
  abort(why: string, graceS: number): void {
    if (this.over || this.committed) return;
    this.failure ??= why;
    this.callOff(graceS);
  }

  private callOff(graceS: number): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    // TERM: the new supervisor drains what it started; KILL if it does not go.
    this.successor.kill('SIGTERM');
    this.killTimer ??= setTimeout(() => this.successor.kill('SIGKILL'), graceS * 1000);
  }

  private exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    const how = exitHow(code, signal);
    if (this.lastBootError) {
      return `the new gsup exited (${how}): its workers could not boot: ${this.lastBootError}`;
    }
    return `the new gsup exited (${how}) before its workers were ready; see its output above`;
  }

  private done(): void {
    if (this.over) return;
    this.finish();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const newPid = this.successor.pid;
    this.successor.release();
    const message = this.host.say({ type: 'upgrade-done', oldPid: process.pid, newPid, seconds });
    this.resolve({ ok: true, message, newPid });
    this.host.handOver();
  }

  private fail(reason: string): void {
    if (this.over) return;
    this.finish();
    const newPid = this.successor.pid > 0 ? this.successor.pid : null;
    const message = this.host.say({ type: 'upgrade-failed', oldPid: process.pid, newPid, reason });
    this.resolve({ ok: false, message, newPid });
  }

  private finish(): void {
    this.over = true;
    if (this.deadline) clearTimeout(this.deadline);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.host.ended();
  }
}
