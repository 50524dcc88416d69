// Runs in the supervisor process: the one class that owns the pool. Every action (scale,
// reload, stop, recycle, kill) is one method here; signals, dashboard keys and the control
// socket are only front doors to these methods. The pool is driven by one periodic step,
// `tick`, which reads top to bottom: murder hung workers, then manage the pool toward its target.

import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pidusage from 'pidusage';
import { monotonic } from '../clock.js';
import type { HookMoment } from '../config/schema.js';
import { EXIT_BOOT_ERROR, EXIT_OK, WORKER_BOOT_ERROR } from '../exit-codes.js';
import { parseWorkerMessage, type WorkerConfig } from '../protocol.js';
import { backoffMs } from './backoff.js';
import { type BindSpec, formatBind, type Listener, openListener } from './listener.js';
import type {
  EventKind,
  EventLevel,
  PoolEvent,
  PoolSnapshot,
  PoolState,
  WaitingSlot,
  WorkerOutput,
  WorkerSnapshot,
} from './snapshot.js';
import { lineSplitter, WorkerRecord } from './worker.js';

export interface SupervisorOptions {
  /** The app spec, e.g. `app.js`, `app.mjs:handler`, `app.js:create()`. */
  app: string;
  /** Sockets to serve on (bound once, here). */
  binds: BindSpec[];
  workers: number;
  /** Ceiling for scale-up (TTIN, `+`). */
  maxWorkers: number;
  backlog: number;
  /** Seconds without a heartbeat before a worker is killed; 0 turns it off. */
  timeout: number;
  /** Seconds a worker gets to become ready. */
  bootTimeout: number;
  /** Seconds a draining worker gets before SIGKILL. */
  gracefulTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  /** Extra flags for the workers' node, e.g. `--max-old-space-size=512`. */
  nodeArgs: string[];
  cwd: string;
  /** The workers' environment (gsup adds its own variables on top). */
  env: Record<string, string | undefined>;
  /** Run the workers as this user and group id (the supervisor keeps its own, e.g. root for port 80). */
  uid?: number;
  gid?: number;
  /**
   * Called at the start of every reload, from any door: returns the full options to apply (the
   * config file re-read), `accept` to call once they are applied, and one-line notes to log; or a
   * one-line error, in which case the running config is kept and the reload is not done.
   */
  reloadConfig?: () => Promise<
    | { options: Omit<SupervisorOptions, 'reloadConfig'>; accept: () => void; notes: string[] }
    | string
  >;
}

export interface ReloadResult {
  ok: boolean;
  message: string;
}

interface SlotInfo {
  failures: number;
  retryAt: number;
  restarts: number;
  lastExit: string | null;
}

interface ReloadRun {
  gen: number;
  startedAt: number;
  canaryPassed: boolean;
  oldIds: Set<number>;
  oldTotal: number;
  waiters: Array<(r: ReloadResult) => void>;
}

interface SupervisorEvents {
  event: [PoolEvent];
  output: [WorkerOutput];
  stopped: [number];
  lifecycle: [HookMoment, Record<string, unknown>];
}

/** How often the supervisor looks at its workers. */
const TICK_MS = 100;
/** A gap this long between ticks means the supervisor itself was stalled. */
const STALL_MS = 1000;
/** How often CPU and RSS are read (pidusage). */
const USAGE_MS = 1000;
/** After SIGINT on a timeout, how long Node gets to print the stuck stack before SIGKILL. */
const STACK_GRACE_MS = 1500;
/** A worker drained before it was ready gets this long to exit before SIGKILL. */
const NOT_READY_GRACE_MS = 2000;
/** After SIGQUIT on a quick stop, how long before SIGKILL. */
const QUICK_STOP_GRACE_MS = 1000;
/** A draining worker's idle keep-alive connections get this long to send one more request. */
const DRAIN_IDLE_MS = 1000;
/** With no worker ever ready, this many boot failures in a row end `gsup start` (exit 3). */
const BOOT_FAILURES_BEFORE_GIVING_UP = 3;
/** Events kept for the snapshot. */
const EVENTS_KEPT = 200;
/** Warnings logged per worker before going quiet about it. */
const WARNINGS_LOGGED = 10;
/** Bad IPC messages logged per worker before going quiet about it. */
const BAD_MESSAGES_LOGGED = 3;

/**
 * util-linux's setpriv sets the parent-death signal and execs node (same pid), so a worker dies
 * with the supervisor even when its event loop is blocked and it cannot see the IPC channel
 * close. Without it (not Linux, not installed) the IPC disconnect is the only guard.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

const RUNTIME = fileURLToPath(new URL('../worker/runtime.js', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export class Supervisor extends EventEmitter<SupervisorEvents> {
  options: SupervisorOptions;
  private sockets: Listener[] = [];
  private readonly workers = new Map<number, WorkerRecord>();
  private readonly slots = new Map<number, SlotInfo>();
  private target: number;
  private nextId = 1;
  private gen = 1;
  private state: PoolState = 'starting';
  private startedAt = monotonic();
  private everReady = false;
  private announcedReady = false;
  private bootFailuresInARow = 0;
  private lastBootError: string | null = null;
  private exitCode = EXIT_OK;
  private reloadRun: ReloadRun | null = null;
  private reloadQueued: Array<(r: ReloadResult) => void> | null = null;
  private reloads = 0;
  private restarts = 0;
  private requestsOfExited = 0;
  private statusOfExited: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  private readonly events: PoolEvent[] = [];
  private timers: NodeJS.Timeout[] = [];
  private polling = false;
  private preparingReload = false;
  /** Sockets dropped by a config reload, closed when that reload ends. */
  private retiredSockets: Listener[] = [];
  private lastTick = monotonic();
  private managing = false;
  private stopMode: 'graceful' | 'quick' | null = null;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit status once the supervisor has stopped. */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions) {
    super();
    this.options = options;
    this.target = options.workers;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  // ---- commands: every front door calls these -------------------------------------------

  /** Binds every socket (throws BindError before any worker starts), then boots the pool. */
  async start(): Promise<void> {
    for (const spec of this.options.binds) {
      try {
        this.sockets.push(await openListener(spec));
      } catch (err) {
        for (const l of this.sockets) l.close();
        this.sockets = [];
        throw err;
      }
      if (this.state === 'stopped') {
        // stop() arrived while we were binding: start nothing.
        for (const l of this.sockets) l.close();
        return;
      }
    }
    this.startedAt = monotonic();
    for (const l of this.sockets) this.log('info', 'listening', `listening at ${l.url}`);
    this.state = 'running';
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => void this.pollUsage(), USAGE_MS));
    this.manage();
  }

  /** Sets the worker count: a number, or a change like +1 / -1. Clamped to 1..maxWorkers. */
  scale(to: number | { by: number }): number {
    if (this.stopMode) return this.target;
    const wanted = typeof to === 'number' ? to : this.target + to.by;
    const next = Math.max(1, Math.min(this.options.maxWorkers, Math.trunc(wanted)));
    if (next !== this.target) {
      this.log('info', 'scale', `scaling from ${this.target} to ${next} workers`);
      this.emit('lifecycle', 'scale', { from: this.target, to: next });
      this.target = next;
      this.manage();
    } else if (next !== wanted) {
      const limit =
        wanted < 1 ? 'never goes below 1' : `is capped at max-workers ${this.options.maxWorkers}`;
      this.log('warn', 'scale', `cannot scale to ${wanted}: the pool ${limit}; staying at ${next}`);
    }
    return this.target;
  }

  /**
   * Rolling, readiness-gated reload: new workers load the code from disk; an old worker is
   * drained only after a new one is ready. The first new worker is a canary: until it is ready
   * no other is spawned, and if it cannot boot the old workers keep serving. A reload asked for
   * while one runs is coalesced into one more run after it.
   */
  reload(): Promise<ReloadResult> {
    if (this.state === 'starting') {
      return Promise.resolve({ ok: false, message: 'not reloading: gsup is still starting' });
    }
    if (this.stopMode) {
      return Promise.resolve({ ok: false, message: 'not reloading: gsup is stopping' });
    }
    if (this.reloadRun || this.preparingReload) {
      if (!this.reloadQueued) {
        this.reloadQueued = [];
        this.log('info', 'reload', 'reload requested while one runs; one more will follow it');
      }
      const queue = this.reloadQueued;
      return new Promise((resolve) => queue.push(resolve));
    }
    return new Promise((resolve) => void this.prepareReload([resolve]));
  }

  /** Gracefully replaces one worker: its successor is ready before it stops accepting. */
  recycle(pid: number, why = 'asked'): boolean {
    const w = this.byPid(pid);
    if (!w?.active || w.replacing) return false;
    w.replacing = 'recycle';
    this.log('info', 'recycle', `recycling worker ${w.slot} (pid ${w.pid}): ${why}`, w);
    this.manage();
    return true;
  }

  /** SIGKILLs one worker; the pool spawns its replacement. */
  kill(pid: number): boolean {
    const w = this.byPid(pid);
    if (!w?.live) return false;
    this.log('warn', 'kill', `killing worker ${w.slot} (pid ${w.pid}) with SIGKILL`, w);
    this.signal(w, 'SIGKILL');
    return true;
  }

  /** Graceful stop drains every worker (SIGKILL after graceful-timeout); quick stop exits them now. */
  stop(opts: { quick?: boolean } = {}): Promise<number> {
    const quick = opts.quick === true;
    if (this.state === 'stopped') return this.done;
    if (this.stopMode === 'quick' || (this.stopMode === 'graceful' && !quick)) return this.done;
    if (this.state === 'starting') {
      this.finish();
      return this.done;
    }
    this.stopMode = quick ? 'quick' : 'graceful';
    this.state = 'stopping';
    this.log(
      'info',
      'stop',
      quick
        ? 'quick stop: workers exit now'
        : `graceful stop: draining workers (up to ${this.options.gracefulTimeout}s)`,
    );
    this.failReload('gsup is stopping');
    for (const w of this.workers.values()) {
      if (quick) this.quit(w);
      else this.drainWorker(w);
    }
    this.finishIfEmpty();
    return this.done;
  }

  /** Records a warning from outside the pool (a hook that threw, garbage on a channel) in the event log. */
  warn(message: string): void {
    this.log('warn', 'warn', message);
  }

  /** The one model of the pool that every view reads. */
  snapshot(): PoolSnapshot {
    const now = monotonic();
    const workers = [...this.workers.values()]
      .sort((a, b) => a.slot - b.slot || a.id - b.id)
      .map((w) => this.workerSnapshot(w, now));
    const live = workers.length;
    const totals = {
      requests: this.requestsOfExited,
      rps: 0,
      inFlight: 0,
      status: [...this.statusOfExited] as [number, number, number, number, number],
      restarts: this.restarts,
      reloads: this.reloads,
    };
    for (const w of workers) {
      totals.requests += w.requests;
      totals.rps += w.rps;
      totals.inFlight += w.inFlight;
      for (let i = 0; i < 5; i++) totals.status[i as 0] += w.status[i as 0];
    }
    const run = this.reloadRun;
    const waiting: WaitingSlot[] = [];
    const fresh = new Set(
      [...this.workers.values()].filter((w) => w.active && !w.replacing).map((w) => w.slot),
    );
    for (const [slot, info] of this.slots) {
      if (!fresh.has(slot) && info.retryAt > now && slot <= this.target) {
        waiting.push({
          slot,
          failures: info.failures,
          retryInMs: info.retryAt - now,
          lastExit: info.lastExit,
        });
      }
    }
    return {
      at: Date.now(),
      pid: process.pid,
      app: this.options.app,
      listening: this.sockets.map((l) => l.url),
      versions: { gsup: VERSION, node: process.version },
      state: this.state,
      uptimeMs: now - this.startedAt,
      target: this.target,
      maxWorkers: this.options.maxWorkers,
      live,
      ready: workers.filter((w) => w.state === 'ready').length,
      timeoutMs: this.options.timeout * 1000,
      totals,
      reload: run
        ? {
            newReady: [...this.workers.values()].filter(
              (w) => w.gen === run.gen && w.state === 'ready',
            ).length,
            oldLeft: [...run.oldIds].filter((id) => this.workers.has(id)).length,
            oldTotal: run.oldTotal,
            startedAt: Date.now() - (now - run.startedAt),
          }
        : null,
      workers,
      waiting: waiting.sort((a, b) => a.slot - b.slot),
      events: this.events.slice(-EVENTS_KEPT),
    };
  }

  /** The address clients reach, e.g. `http://127.0.0.1:8000`. */
  get urls(): string[] {
    return this.sockets.map((l) => l.url);
  }

  // ---- the periodic step ------------------------------------------------------------------

  private tick(): void {
    const now = monotonic();
    // If the supervisor itself was stalled (a blocking log write, a suspended process), the
    // heartbeats that arrived meanwhile are still queued behind this timer: judge no worker on
    // stale data. The next tick, a moment later, sees them.
    const stalled = now - this.lastTick > STALL_MS;
    this.lastTick = now;
    if (!stalled) this.murderWorkers();
    this.manage();
  }

  /** Kills workers that are stuck: no heartbeat within timeout, not booted, not drained. */
  private murderWorkers(): void {
    const now = monotonic();
    const { timeout, bootTimeout } = this.options;
    for (const w of this.workers.values()) {
      if (w.killAt !== null && now >= w.killAt) {
        w.killAt = null;
        this.signal(w, 'SIGKILL');
        continue;
      }
      if (w.timedOut) continue;
      if (
        (w.state === 'booting' || w.state === 'spawning') &&
        now - w.spawnedAt > bootTimeout * 1000
      ) {
        w.bootError ??= { message: `not ready after ${bootTimeout}s (boot timeout)`, where: null };
        this.murder(w, `worker ${w.slot} (pid ${w.pid}) not ready after ${bootTimeout}s`);
      } else if (
        (w.state === 'ready' || w.state === 'draining') &&
        timeout > 0 &&
        now - (w.lastHeartbeat ?? w.readyAt ?? now) > timeout * 1000
      ) {
        const age = ((now - (w.lastHeartbeat ?? now)) / 1000).toFixed(1);
        this.murder(
          w,
          `WORKER TIMEOUT: worker ${w.slot} (pid ${w.pid}) sent no heartbeat for ${age}s (timeout ${timeout}s)`,
        );
      } else if (w.state === 'draining' && w.drainDeadline !== null && now > w.drainDeadline) {
        w.drainDeadline = null;
        this.log(
          'warn',
          'kill',
          `worker ${w.slot} (pid ${w.pid}) did not drain within ${this.options.gracefulTimeout}s; SIGKILL`,
          w,
        );
        this.signal(w, 'SIGKILL');
      }
    }
  }

  /** SIGINT first (Node prints the stuck JS stack: --trace-sigint), SIGKILL after a short grace. */
  private murder(w: WorkerRecord, message: string): void {
    w.timedOut = true;
    w.collectingStack = true;
    w.stuckStack = [];
    this.log('error', 'timeout', `${message}; sending SIGINT for its stack, then SIGKILL`, w);
    this.signal(w, 'SIGINT');
    w.killAt = monotonic() + STACK_GRACE_MS;
  }

  /** Moves the pool toward its target: spawn what is missing, drain what is extra or replaced. */
  private manage(): void {
    if (this.state === 'starting' || this.state === 'stopped' || this.stopMode || this.managing)
      return;
    this.managing = true;
    try {
      const now = monotonic();
      const active = [...this.workers.values()].filter((w) => w.active);
      const fresh = active.filter((w) => !w.replacing);
      const stale = active.filter((w) => w.replacing);
      const run = this.reloadRun;

      // Too many: retire the extra ones, those not serving yet first, then the oldest.
      if (fresh.length > this.target) {
        const order = [...fresh].sort((a, b) => rank(a) - rank(b) || a.id - b.id);
        for (const w of order.slice(0, fresh.length - this.target))
          this.drainWorker(w, 'scaled down');
      }

      // Replaced workers leave only as their successors become ready.
      const freshReady = fresh.filter((w) => w.state === 'ready').length;
      // Those not serving yet go first: draining them costs nothing.
      const leaving = stale.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
      let serving = freshReady + leaving.length;
      for (const w of leaving) {
        if (serving <= this.target) break;
        this.drainWorker(w, w.replacing === 'reload' ? 'replaced by reload' : 'recycled');
        serving--;
      }

      // Too few: spawn into the lowest free slots, respecting each slot's backoff.
      const missing = Math.max(0, this.target - fresh.length);
      if (missing > 0) {
        const used = new Set(fresh.map((w) => w.slot));
        let canaries =
          run && !run.canaryPassed ? 1 - fresh.filter((w) => w.gen === run.gen).length : missing;
        let found = 0;
        for (let slot = 1; found < missing; slot++) {
          if (used.has(slot)) continue;
          found++;
          const info = this.slots.get(slot);
          if (info && info.retryAt > now) continue;
          if (canaries <= 0) break;
          canaries--;
          this.spawnWorker(slot);
        }
      }

      if (run) this.checkReloadDone(run);
    } finally {
      this.managing = false;
    }
  }

  // ---- workers ----------------------------------------------------------------------------

  private spawnWorker(slot: number): void {
    const { options } = this;
    const jitter =
      options.maxRequestsJitter > 0
        ? Math.floor(Math.random() * (options.maxRequestsJitter + 1))
        : 0;
    const config: WorkerConfig = {
      app: options.app,
      cwd: options.cwd,
      fds: this.sockets.map((_, i) => 4 + i),
      backlog: options.backlog,
      heartbeatMs: heartbeatMs(options.timeout),
      maxRequests: options.maxRequests > 0 ? options.maxRequests + jitter : 0,
      drainIdleMs: DRAIN_IDLE_MS,
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    // systemd's variables describe the supervisor's fds, not the worker's.
    delete env.LISTEN_FDS;
    delete env.LISTEN_PID;
    delete env.LISTEN_FDNAMES;
    env.GSUP_WORKER = JSON.stringify(config);
    env.GSUP_SLOT = String(slot);

    const nodeArgv = [...options.nodeArgs, '--trace-sigint', RUNTIME];
    const [file, args] = SETPRIV
      ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', process.execPath, ...nodeArgv]]
      : [process.execPath, nodeArgv];
    const child = execa(file, args, {
      cwd: options.cwd,
      env,
      extendEnv: false,
      // The listening sockets follow the IPC channel: fd 4, 5, ... in the worker. (execa's types
      // only list fds up to 9 here; any inherited fd number works at run time.)
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...this.sockets.map((l) => l.fd as 3)],
      ipc: true,
      // JSON lines, not execa's default structured clone: a worker that writes garbage to its
      // channel fd must not be able to make the supervisor's deserializer throw.
      serialization: 'json',
      buffer: false,
      // Own process group: Ctrl-C in the terminal reaches the supervisor only, which decides.
      detached: true,
      reject: false,
      cleanup: false,
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
      forceKillAfterDelay: false,
    });
    const w = new WorkerRecord(this.nextId++, slot, this.gen, child);
    this.workers.set(w.id, w);
    child.once('spawn', () => {
      w.moveTo('booting');
      this.log('info', 'spawn', `booting worker ${slot} (pid ${w.pid})`, w);
      this.emit('lifecycle', 'workerSpawn', { pid: w.pid, slot });
    });
    let reaped = false;
    const reapOnce = (code: number | null, signal: NodeJS.Signals | null) => {
      if (reaped) return;
      reaped = true;
      this.reap(w, code, signal);
    };
    child.once('error', (err: Error) => {
      // A spawn that failed (missing cwd, EAGAIN, EMFILE) emits no 'exit': reap it here.
      if (w.state === 'spawning') {
        w.bootError = { message: `cannot start a worker process: ${err.message}`, where: null };
        reapOnce(null, null);
      }
    });
    child.once('exit', (code, signal) => {
      // Reap once stdout/stderr are drained (a timed-out worker's stack arrives last), but do not
      // wait on a grandchild that inherited them.
      child.once('close', () => reapOnce(code, signal));
      setTimeout(() => reapOnce(code, signal), 250);
    });
    child.on('message', (raw: unknown) => this.onMessage(w, raw));
    child.stdout?.on(
      'data',
      lineSplitter((line) => this.emit('output', { slot, pid: w.pid, stream: 'stdout', line })),
    );
    child.stderr?.on(
      'data',
      lineSplitter((line) => {
        if (w.collectingStack && w.stuckStack) {
          if (/^\s+at /.test(line)) w.stuckStack.push(line.trim().replace(/^at /, ''));
          else if (line.startsWith('KEYBOARD_INTERRUPT')) w.sigintSeen = true;
        }
        this.emit('output', { slot, pid: w.pid, stream: 'stderr', line });
      }),
    );
    // execa's promise settles on exit; the 'exit' listener above does the work.
    void child.catch(() => undefined);
  }

  private onMessage(w: WorkerRecord, raw: unknown): void {
    const msg = parseWorkerMessage(raw);
    if (typeof msg === 'string') {
      w.badMessages++;
      if (w.badMessages <= BAD_MESSAGES_LOGGED) {
        const more =
          w.badMessages === BAD_MESSAGES_LOGGED
            ? ' (further bad messages from it are ignored silently)'
            : '';
        this.log('warn', 'warn', `worker ${w.slot} (pid ${w.pid}) sent ${msg}; ignored${more}`, w);
      }
      return;
    }
    switch (msg.t) {
      case 'ready':
        // A worker already being killed for a timeout must not pass as ready (or as a canary).
        if (w.timedOut || !w.moveTo('ready')) return;
        w.lastHeartbeat = monotonic();
        this.everReady = true;
        this.bootFailuresInARow = 0;
        this.slotInfo(w.slot).failures = 0;
        this.slotInfo(w.slot).retryAt = 0;
        this.log(
          'info',
          'ready',
          `worker ${w.slot} (pid ${w.pid}) ready in ${Math.round(monotonic() - w.spawnedAt)} ms`,
          w,
        );
        this.emit('lifecycle', 'workerReady', { pid: w.pid, slot: w.slot });
        if (!this.announcedReady && this.countReady() >= this.target) {
          this.announcedReady = true;
          this.log('info', 'ready', `all ${this.target} workers ready`);
          this.emit('lifecycle', 'ready', { workers: this.target });
        }
        if (this.reloadRun && w.gen === this.reloadRun.gen && !this.reloadRun.canaryPassed) {
          this.reloadRun.canaryPassed = true;
          this.log(
            'info',
            'reload',
            `reload: the first new worker (pid ${w.pid}) is ready; replacing the rest`,
          );
        }
        this.manage();
        break;
      case 'hb':
        w.recordHeartbeat(msg.stats);
        break;
      case 'boot-error':
        w.bootError = { message: msg.message, where: msg.where };
        break;
      case 'recycle':
        this.recycle(w.pid, `reached max-requests (${msg.requests} requests)`);
        break;
      case 'warn':
        // A worker spamming warnings must not flood the log and push real events out of it.
        w.warnings++;
        if (w.warnings <= WARNINGS_LOGGED) {
          const more =
            w.warnings === WARNINGS_LOGGED ? ' (further warnings from it are not logged)' : '';
          this.log('warn', 'warn', `worker ${w.slot} (pid ${w.pid}): ${msg.message}${more}`, w);
        }
        break;
    }
  }

  /** A worker exited: record why, count it, and let the pool replace it. */
  private reap(w: WorkerRecord, code: number | null, signal: NodeJS.Signals | null): void {
    const was = w.state;
    w.moveTo('exited');
    this.workers.delete(w.id);
    this.requestsOfExited += w.requests;
    if (w.stats) for (let i = 0; i < 5; i++) this.statusOfExited[i as 0] += w.stats.status[i as 0];
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const info = this.slotInfo(w.slot);
    const who = `worker ${w.slot} (pid ${w.pid})`;
    const bootFailed = was === 'spawning' || was === 'booting';

    if (w.timedOut) {
      const frames = w.stuckStack ?? [];
      const where = frames.length
        ? `stuck at ${frames.slice(0, 3).join(' ← ')}`
        : w.sigintSeen
          ? 'no JavaScript was running: it was waiting (on I/O, a timer, or a promise that never settles)'
          : 'no stack was printed (the app may listen for SIGINT, which turns --trace-sigint off)';
      info.lastExit = bootFailed ? 'boot timeout' : 'timeout';
      if (bootFailed) {
        // Said once, in the boot failure line that follows.
        if (w.bootError)
          w.bootError = { ...w.bootError, message: `${w.bootError.message}; ${where}` };
      } else {
        this.restarts++;
        info.restarts++;
        this.log('error', 'timeout', `${who} killed after timeout (${how}); ${where}`, w, frames);
      }
    } else if (was === 'draining') {
      info.lastExit = code === 0 ? (w.quitting ? 'quit' : 'drained') : how;
      const after = w.quitting ? 'on quick stop' : 'after draining';
      this.log(code === 0 ? 'info' : 'warn', 'exit', `${who} exited (${how}) ${after}`, w);
    } else if (bootFailed) {
      info.lastExit = 'boot failed';
    } else {
      info.lastExit = how;
      this.restarts++;
      info.restarts++;
      const level: EventLevel = this.stopMode ? 'info' : 'error';
      this.log(
        level,
        'exit',
        `${who} exited unexpectedly (${how})${this.stopMode ? '' : '; replacing it'}`,
        w,
      );
    }

    this.emit('lifecycle', 'workerExit', {
      pid: w.pid,
      slot: w.slot,
      code,
      signal,
      reason: info.lastExit,
    });
    if (bootFailed && !this.stopMode) this.bootFailed(w, code, how);
    this.finishIfEmpty();
    this.manage();
  }

  private bootFailed(w: WorkerRecord, code: number | null, how: string): void {
    const info = this.slotInfo(w.slot);
    const error = w.bootError
      ? `${w.bootError.message}${w.bootError.where ? ` (at ${w.bootError.where})` : ''}`
      : `exited (${how}) before it was ready${code === WORKER_BOOT_ERROR ? '' : '; see its output above'}`;
    const who = `worker ${w.slot} (pid ${w.pid})`;
    const run = this.reloadRun;
    if (run && w.gen === run.gen) {
      this.log('error', 'boot-error', `${who} failed to boot: ${error}`, w);
      this.rollBack(run, error);
      return;
    }
    this.bootFailuresInARow++;
    info.failures++;
    info.restarts++;
    info.retryAt = monotonic() + backoffMs(info.failures);
    const same = error === this.lastBootError;
    this.lastBootError = error;
    const retry = `retrying in ${(backoffMs(info.failures) / 1000).toFixed(1)}s`;
    this.log(
      'error',
      'boot-error',
      same
        ? `${who} failed to boot again (same error); ${retry}`
        : `${who} failed to boot: ${error}; ${retry}`,
      w,
    );
    const stillBooting = [...this.workers.values()].some((x) => x !== w && x.active);
    if (
      !this.everReady &&
      !stillBooting &&
      this.bootFailuresInARow >= BOOT_FAILURES_BEFORE_GIVING_UP
    ) {
      this.log(
        'error',
        'stop',
        `no worker could boot the app: ${error}. Fix the app and start again.`,
      );
      this.exitCode = EXIT_BOOT_ERROR;
      void this.stop({ quick: true });
    }
  }

  /** Drains a worker: it stops accepting, answers what it has, then exits 0. */
  private drainWorker(w: WorkerRecord, why?: string): void {
    if (!w.live || w.state === 'draining') return;
    const serving = w.state === 'ready';
    w.moveTo('draining');
    w.drainDeadline = monotonic() + this.options.gracefulTimeout * 1000;
    if (why) this.log('info', 'exit', `draining worker ${w.slot} (pid ${w.pid}): ${why}`, w);
    // A booting worker may already accept (its 'ready' can be in flight): SIGTERM lets it answer
    // what it took; with nothing to answer it exits at once. SIGKILL if it lingers.
    this.signal(w, 'SIGTERM');
    if (!serving) w.killAt = monotonic() + NOT_READY_GRACE_MS;
  }

  /** Quick stop for one worker: SIGQUIT (exit now), SIGKILL if it is still there soon after. */
  private quit(w: WorkerRecord): void {
    if (!w.live) return;
    // Before the runtime handles SIGQUIT its default action dumps core: not-ready workers get SIGKILL.
    const handlesQuit = w.state === 'ready' || w.state === 'draining';
    w.moveTo('draining');
    w.quitting = true;
    this.signal(w, handlesQuit ? 'SIGQUIT' : 'SIGKILL');
    w.killAt = Math.min(w.killAt ?? Number.POSITIVE_INFINITY, monotonic() + QUICK_STOP_GRACE_MS);
  }

  private signal(w: WorkerRecord, sig: NodeJS.Signals): void {
    if (w.pid <= 0 || !w.live) return;
    try {
      process.kill(w.pid, sig);
    } catch {
      // already gone; 'exit' will follow
    }
  }

  // ---- reload -----------------------------------------------------------------------------

  /** Re-reads the config (if the front end gave a way to), applies it, then rolls the workers. */
  private async prepareReload(waiters: Array<(r: ReloadResult) => void>): Promise<void> {
    this.preparingReload = true;
    let refused: string | null = null;
    try {
      const next = this.options.reloadConfig ? await this.options.reloadConfig() : null;
      if (typeof next === 'string') refused = next;
      else if (next) {
        await this.applyOptions(next.options);
        for (const note of next.notes) this.log('warn', 'reload', note);
        // Only now is the new config in force (its sockets are open): the front end may commit it.
        next.accept();
      }
    } catch (err) {
      refused = (err as Error).message;
    } finally {
      this.preparingReload = false;
    }
    if (refused !== null || this.stopMode) {
      const message =
        refused !== null
          ? `reload not done: ${refused}; the running config and workers are kept`
          : 'not reloading: gsup is stopping';
      if (refused !== null) this.log('error', 'reload', message);
      const result: ReloadResult = { ok: false, message };
      for (const resolve of waiters) resolve(result);
      this.emit('lifecycle', 'reload', { ...result });
      this.runQueuedReload();
      return;
    }
    this.beginReload(waiters);
  }

  /** Applies re-read options, replacing the running ones whole; opens new sockets first. */
  private async applyOptions(next: Omit<SupervisorOptions, 'reloadConfig'>): Promise<void> {
    const changed: string[] = [];
    const want = next.binds.map(formatBind);
    const have = this.sockets.map((l) => formatBind(l.spec));
    if (want.join(' ') !== have.join(' ')) {
      const opened: Listener[] = [];
      try {
        for (const spec of next.binds) {
          const existing = this.sockets.find((l) => formatBind(l.spec) === formatBind(spec));
          opened.push(existing ?? (await openListener(spec)));
        }
      } catch (err) {
        for (const l of opened) if (!this.sockets.includes(l)) l.close();
        throw err;
      }
      // Old sockets close once no new worker needs them; old workers keep their own copies
      // until they drain.
      this.retiredSockets.push(...this.sockets.filter((l) => !opened.includes(l)));
      this.sockets = opened;
      for (const l of opened)
        if (!have.includes(formatBind(l.spec)))
          this.log('info', 'listening', `listening at ${l.url}`);
      changed.push(`bind ${have.join(' ')} → ${want.join(' ')}`);
    }
    for (const key of [
      'app',
      'timeout',
      'bootTimeout',
      'gracefulTimeout',
      'maxRequests',
      'maxRequestsJitter',
      'maxWorkers',
      'backlog',
    ] as const) {
      if (next[key] !== this.options[key]) {
        changed.push(`${key} ${String(this.options[key])} → ${String(next[key])}`);
      }
    }
    if (next.nodeArgs.join(' ') !== this.options.nodeArgs.join(' ')) changed.push('node-arg');
    this.options = { ...next, reloadConfig: this.options.reloadConfig };
    if (changed.length) this.log('info', 'reload', `config re-read: ${changed.join(', ')}`);
    if (next.workers !== this.target) this.scale(next.workers);
  }

  private runQueuedReload(): void {
    const queued = this.reloadQueued;
    this.reloadQueued = null;
    if (!queued) return;
    setImmediate(() => {
      if (this.stopMode) {
        for (const resolve of queued)
          resolve({ ok: false, message: 'not reloading: gsup is stopping' });
      } else void this.prepareReload(queued);
    });
  }

  private beginReload(waiters: Array<(r: ReloadResult) => void>): void {
    this.gen++;
    const old = [...this.workers.values()].filter((w) => w.active);
    for (const w of old) w.replacing ??= 'reload';
    this.reloadRun = {
      gen: this.gen,
      startedAt: monotonic(),
      canaryPassed: false,
      oldIds: new Set(old.map((w) => w.id)),
      oldTotal: old.length,
      waiters,
    };
    this.state = 'reloading';
    this.reloads++;
    this.log(
      'info',
      'reload',
      `reload started: replacing ${old.length} workers, one new worker first`,
    );
    this.manage();
  }

  private checkReloadDone(run: ReloadRun): void {
    const active = [...this.workers.values()].filter((w) => w.active);
    const freshReady = active.filter((w) => !w.replacing && w.state === 'ready').length;
    const oldLeft = [...run.oldIds].filter((id) => this.workers.has(id)).length;
    if (oldLeft === 0 && freshReady >= this.target) {
      this.endReload(
        run,
        true,
        `reload done: ${freshReady} new workers ready, ${run.oldTotal} old drained in ${((monotonic() - run.startedAt) / 1000).toFixed(1)}s`,
      );
    }
  }

  private rollBack(run: ReloadRun, error: string): void {
    for (const w of this.workers.values()) {
      if (w.replacing === 'reload') w.replacing = null;
      if (w.gen === run.gen && (w.state === 'booting' || w.state === 'spawning'))
        this.drainWorker(w);
    }
    const serving = [...this.workers.values()].filter((w) => w.active);
    const onNew = serving.filter((w) => w.gen === run.gen).length;
    // Honest about a mixed pool: new workers that did boot are kept, and they run the new code.
    const mix =
      onNew > 0 ? ` (${onNew} of them already run the new code)` : ', all on the old code';
    this.endReload(
      run,
      false,
      `reload rolled back: the new code failed to boot: ${error}. ${serving.length} worker${serving.length === 1 ? '' : 's'} keep${serving.length === 1 ? 's' : ''} serving${mix}.`,
    );
  }

  private failReload(why: string): void {
    const run = this.reloadRun;
    if (!run) return;
    for (const w of this.workers.values()) if (w.replacing === 'reload') w.replacing = null;
    this.endReload(run, false, `reload abandoned: ${why}`);
  }

  private endReload(run: ReloadRun, ok: boolean, message: string): void {
    this.reloadRun = null;
    if (!this.stopMode) this.state = 'running';
    this.log(ok ? 'info' : 'error', 'reload', message);
    const result: ReloadResult = { ok, message };
    for (const resolve of run.waiters) resolve(result);
    this.emit('lifecycle', 'reload', { ...result });
    for (const l of this.retiredSockets.splice(0)) {
      l.close();
      this.log('info', 'listening', `no longer listening at ${l.url}`);
    }
    this.runQueuedReload();
  }

  // ---- stopping ---------------------------------------------------------------------------

  private finishIfEmpty(): void {
    if (this.stopMode && this.workers.size === 0) this.finish();
  }

  private finish(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const l of [...this.sockets, ...this.retiredSockets.splice(0)]) l.close();
    this.log('info', 'stop', 'stopped');
    this.emit('lifecycle', 'stop', { code: this.exitCode });
    this.emit('stopped', this.exitCode);
    this.resolveDone(this.exitCode);
  }

  // ---- measuring --------------------------------------------------------------------------

  /** CPU and RSS from outside the worker (pidusage): a hung worker cannot report itself. */
  private async pollUsage(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ws = [...this.workers.values()].filter((w) => w.pid > 0 && w.state !== 'spawning');
      await Promise.all(
        ws.map(async (w) => {
          try {
            // maxage: keep the history a few polls long so CPU % is over one interval.
            const u = await pidusage(w.pid, { maxage: USAGE_MS * 4 });
            w.cpu = u.cpu;
            w.rss = u.memory;
          } catch {
            // the worker exited between listing and reading
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  private workerSnapshot(w: WorkerRecord, now: number): WorkerSnapshot {
    const info = this.slotInfo(w.slot);
    let label: string = w.state;
    if (w.timedOut) label = 'timed out';
    else if (w.replacing && w.state === 'ready') label = 'replacing';
    else if (w.state === 'booting' && info.failures > 0) label = 'flapping';
    return {
      id: w.id,
      slot: w.slot,
      pid: w.pid,
      gen: w.gen,
      state: w.state,
      label,
      replacing: w.replacing,
      uptimeMs: now - w.spawnedAt,
      requests: w.requests,
      rps: Math.round(w.rps * 10) / 10,
      inFlight: w.stats?.inFlight ?? 0,
      status: w.stats ? [...w.stats.status] : [0, 0, 0, 0, 0],
      p50Ms: w.latency(0.5),
      p99Ms: w.latency(0.99),
      lagMs: w.stats?.lagMs.max ?? null,
      cpu: w.cpu,
      rss: w.rss ?? w.stats?.rss ?? null,
      heartbeatAgeMs: w.lastHeartbeat === null ? null : now - w.lastHeartbeat,
      restarts: info.restarts,
      lastExit: info.lastExit,
      stuckStack: w.stuckStack,
    };
  }

  // ---- helpers ----------------------------------------------------------------------------

  private countReady(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.state === 'ready') n++;
    return n;
  }

  private byPid(pid: number): WorkerRecord | undefined {
    for (const w of this.workers.values()) if (w.pid === pid) return w;
    return undefined;
  }

  private slotInfo(slot: number): SlotInfo {
    let info = this.slots.get(slot);
    if (!info) {
      info = { failures: 0, retryAt: 0, restarts: 0, lastExit: null };
      this.slots.set(slot, info);
    }
    return info;
  }

  private log(
    level: EventLevel,
    kind: EventKind,
    message: string,
    w?: WorkerRecord,
    stack?: string[],
  ): void {
    const event: PoolEvent = { at: Date.now(), level, kind, message };
    if (w) {
      event.slot = w.slot;
      event.pid = w.pid;
    }
    if (stack?.length) event.stack = stack;
    this.events.push(event);
    if (this.events.length > EVENTS_KEPT * 2)
      this.events.splice(0, this.events.length - EVENTS_KEPT);
    this.emit('event', event);
  }
}

/** Heartbeat period: a quarter of the timeout, at most one second. */
export function heartbeatMs(timeoutSeconds: number): number {
  return timeoutSeconds > 0 ? Math.max(50, Math.min(1000, (timeoutSeconds * 1000) / 4)) : 1000;
}

/** Retire order when scaling down: workers not serving yet go first. */
function rank(w: WorkerRecord): number {
  return w.state === 'ready' ? 1 : 0;
}
