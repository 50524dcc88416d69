// Runs in the supervisor process: the arbiter, the one object that owns the pool. Every action
// (scale, reload, stop, recycle, kill) is one method here; signals, dashboard keys and the control
// socket are only front doors to them (src/commands.ts). The pool's rules live in ./plan.ts as a
// pure function; the arbiter gathers the facts, asks the plan, and applies its actions. The
// periodic step reads top to bottom: judge the workers, then manage the pool toward its target.

import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { DEFAULT_ACCESS_FORMAT } from '../access-format.js';
import { monotonic } from '../clock.js';
import { type EventBody, exitHow, type PoolEvent, stamp, type WorkerOutput } from '../events.js';
import { EXIT_BOOT_ERROR, EXIT_OK, WORKER_BOOT_ERROR } from '../exit-codes.js';
import {
  MAX_MESSAGE_CHARS,
  parseWorkerMessage,
  type WorkerConfig,
  type WorkerMessage,
} from '../ipc.js';
import {
  type AutoscaleResult,
  checkScale,
  type ScaleRequest,
  type ScaleResult,
  scaleTarget,
} from '../scale.js';
import { ADAPT_DEFAULTS, Adapter } from './adapt.js';
import { Balancer } from './balance.js';
import { WorkerHandle } from './handle.js';
import {
  adoptListener,
  formatBind,
  type Listener,
  openListener,
  somaxconn,
  startListening,
} from './listener.js';
import {
  heartbeatMs,
  type PoolOptions,
  type SupervisorDeps,
  type SupervisorOptions,
} from './options.js';
import { canMove, type Phase, type ReloadResult, type ReloadRun } from './phase.js';
import { type Action, isActive, isStale, type PlanInput, planPool } from './plan.js';
import { changes, rebind, workerCount } from './reconfigure.js';
import { Slots } from './slots.js';
import { type PoolSnapshot, poolUtilization, Totals, workerSnapshot } from './snapshot.js';
import { spawnWorkerProcess } from './spawn.js';
import { closeUnadopted, type UpgradeResult, UpgradeRun } from './upgrade.js';
import { readUsage, USAGE_MS, usagePoller } from './usage.js';

export type { ScaleRequest, ScaleResult } from '../scale.js';
export type { PoolOptions, ReloadedConfig, SupervisorDeps, SupervisorOptions } from './options.js';
export type { ReloadResult } from './phase.js';
export type { Inheritance, Reexec, ReexecProvider, UpgradeResult } from './upgrade.js';

interface SupervisorEvents {
  event: [PoolEvent];
  output: [WorkerOutput];
}

/** How often the supervisor looks at its workers. */
const TICK_MS = 100;
/** A gap this long between ticks means the supervisor itself was stalled. */
const STALL_MS = 1000;
/** A draining worker's idle keep-alive connections get this long to send one more request. */
const DRAIN_IDLE_MS = 1000;
/** Heartbeats a worker may miss and still count in keep-alive balance. */
const BALANCE_SILENT_BEATS = 3;
/** Events kept for the snapshot. */
const EVENTS_KEPT = 200;
/** Worker output lines kept for `gsup logs` (each clipped to MAX_MESSAGE_CHARS). */
const OUTPUT_KEPT = 200;
/** Warnings logged per worker before going quiet about it. */
const WARNINGS_LOGGED = 10;
/** Bad IPC messages logged per worker before going quiet about it. */
const BAD_MESSAGES_LOGGED = 3;
/**
 * An upgrade's new supervisor must have all its workers ready within this many boot timeouts
 * (a slot may fail and retry once), plus UPGRADE_START_S for node and gsup to start.
 */
const UPGRADE_BOOT_TIMEOUTS = 2;
const UPGRADE_START_S = 10;

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export class Supervisor extends EventEmitter<SupervisorEvents> {
  /** The options in force; a reload replaces them whole. */
  options: SupervisorOptions;
  private readonly deps: SupervisorDeps;
  private sockets: Listener[] = [];
  /** Sockets dropped by a config reload, closed when that reload ends. */
  private retiredSockets: Listener[] = [];
  private readonly workers = new Map<number, WorkerHandle>();
  private readonly slots = new Slots();
  private readonly totals = new Totals();
  private phase: Phase = { is: 'starting' };
  private target: number;
  private nextId = 1;
  private gen = 1;
  private startedAt = monotonic();
  private everReady = false;
  private announcedReady = false;
  private bootFailuresInARow = 0;
  private lastBootError: string | null = null;
  private exitCode = EXIT_OK;
  private readonly events: PoolEvent[] = [];
  /** The newest lines of worker output, with when they came: `gsup logs` starts with them. */
  private readonly outputKept: Array<WorkerOutput & { at: number }> = [];
  private timers: NodeJS.Timeout[] = [];
  private lastTick = monotonic();
  /** When the supervisor's own loop last came back from a stall: heartbeats queued behind it. */
  private stallEndedAt = 0;
  private managing = false;
  /** Autoscaling and memory recycling: their samples, switch and last decisions. */
  private readonly adapter: Adapter;
  /** The upgrade of gsup itself in progress, if any (src/supervisor/upgrade.ts). */
  private upgrading: UpgradeRun | null = null;
  /** The sockets' files belong to an upgrade's new supervisor: closing ours must not remove them. */
  private keepSocketPaths = false;
  private readonly balancer = new Balancer();
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit status once the supervisor has stopped. */
  readonly done: Promise<number>;

  constructor(options: SupervisorOptions, deps: Partial<SupervisorDeps> = {}) {
    super();
    this.options = options;
    this.deps = { spawn: spawnWorkerProcess, usage: readUsage, ...deps };
    this.target = options.workers;
    this.adapter = new Adapter(options.adapt ?? ADAPT_DEFAULTS);
    // The new supervisor of an upgrade keeps the old pool's count (one set at run time survives).
    const inherited = this.deps.inherited?.target;
    if (inherited !== undefined && inherited >= 1 && inherited <= options.maxWorkers) {
      this.target = inherited;
    }
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  // ---- commands: every front door calls these -------------------------------------------

  /** Binds every socket (throws BindError before any worker starts), then boots the pool. */
  async start(): Promise<void> {
    for (const spec of this.options.binds) {
      try {
        this.sockets.push(await this.openSocket(spec));
      } catch (err) {
        for (const l of this.sockets) l.close();
        this.sockets = [];
        throw err;
      }
      if (this.phase.is === 'stopped') {
        // stop() arrived while we were binding: start nothing.
        for (const l of this.sockets) l.close();
        return;
      }
    }
    if (this.deps.inherited) {
      // Sockets the old supervisor had that the config no longer names.
      for (const bind of closeUnadopted(this.deps.inherited)) {
        this.warn(
          `upgrade: the old gsup listened at ${bind}, which the config no longer binds; closed`,
        );
      }
    }
    try {
      // Clients that connect before the first worker is ready wait in the backlog, not refused.
      await startListening(this.sockets, this.options.backlog);
    } catch (err) {
      for (const l of this.sockets) l.close();
      this.sockets = [];
      throw err;
    }
    if (this.phase.is !== 'starting') {
      // stop() arrived while the sockets were put to listen: start nothing.
      for (const l of this.sockets) l.close();
      return;
    }
    this.startedAt = monotonic();
    for (const l of this.sockets) this.say({ type: 'listening', url: l.url });
    this.checkBacklog(this.options.backlog);
    this.moveTo({ is: 'running' });
    const pollUsage = usagePoller(this.deps.usage, () =>
      [...this.workers.values()].filter((w) => w.pid > 0 && w.state !== 'spawning'),
    );
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(
      setInterval(
        () =>
          void pollUsage()
            .then((fresh) => this.adaptPool(fresh))
            .catch((err: unknown) => this.warn(`autoscale: ${(err as Error).message}`)),
        USAGE_MS,
      ),
    );
    this.manage();
  }

  /** Sets the worker count (`{to: 8}`) or changes it (`{by: -1}`); refused below 1 or above max-workers. */
  scale(req: ScaleRequest): ScaleResult {
    if (this.stopping) return { ok: false, error: 'gsup is stopping' };
    if (this.upgrading) return { ok: false, error: this.upgradeRuns() };
    const result = checkScale(this.target, req, this.options.maxWorkers);
    if (!result.ok) {
      const wanted = scaleTarget(this.target, req);
      this.say({
        type: 'scale-refused',
        wanted,
        current: this.target,
        max: this.options.maxWorkers,
      });
      return result;
    }
    this.setTarget(result.to);
    this.manage();
    return result;
  }

  /**
   * Rolling, readiness-gated reload: new workers load the code from disk; an old worker is
   * drained only after a new one is ready. The first new worker is a canary: until it is ready
   * no other is spawned, and if it cannot boot the old workers keep serving. A reload asked for
   * while one runs is coalesced into one more run after it.
   */
  reload(): Promise<ReloadResult> {
    const phase = this.phase;
    if (phase.is === 'starting') return Promise.resolve(notReloading('gsup is still starting'));
    if (phase.is === 'stopping' || phase.is === 'stopped') {
      return Promise.resolve(notReloading('gsup is stopping'));
    }
    if (this.upgrading) return Promise.resolve(notReloading(this.upgradeRuns()));
    if (phase.is === 'reloading') {
      if (!phase.queued) {
        phase.queued = [];
        this.say({ type: 'reload-queued' });
      }
      const queue = phase.queued;
      return new Promise((resolve) => queue.push(resolve));
    }
    this.moveTo({ is: 'reloading', run: null, queued: null });
    return new Promise((resolve) => void this.prepareReload([resolve]));
  }

  /**
   * Turns autoscaling on or off (`toggle`: the other way). The count stays where it is until the
   * rule moves it, between min-workers and the autoscaler's ceiling.
   */
  autoscale(on: boolean | 'toggle'): AutoscaleResult {
    if (this.stopping) return { ok: false, error: 'gsup is stopping' };
    const enabled = on === 'toggle' ? !this.adapter.enabled : on;
    const { min, max } = this.adapter.bounds(this.options.maxWorkers);
    if (enabled !== this.adapter.enabled) {
      this.adapter.enabled = enabled;
      this.say({ type: 'autoscale-set', enabled, min, max, workers: this.target });
    }
    return { ok: true, enabled, min, max, workers: this.target };
  }

  /** Gracefully replaces one worker: its successor is ready before it stops accepting. */
  recycle(
    pid: number,
    why = 'asked',
    memory?: { rssBytes: number; limitBytes: number; samples: number },
  ): boolean {
    const w = this.byPid(pid);
    if (!w?.active || isStale(w, this.run)) return false;
    w.recycling = true;
    w.recycleWhy = why;
    this.say({
      type: 'worker-recycle',
      slot: w.slot,
      pid: w.pid,
      why,
      ...(memory ? { memory } : {}),
    });
    this.manage();
    return true;
  }

  /** SIGKILLs one worker on request; the pool spawns its replacement. */
  kill(pid: number): boolean {
    const w = this.byPid(pid);
    if (!w?.live) return false;
    this.say({ type: 'worker-kill', slot: w.slot, pid: w.pid });
    w.kill(true);
    return true;
  }

  /** Graceful stop drains every worker (SIGKILL after graceful-timeout); quick stop exits them now. */
  stop(opts: { quick?: boolean } = {}): Promise<number> {
    const quick = opts.quick === true;
    const phase = this.phase;
    if (phase.is === 'stopped') return this.done;
    if (phase.is === 'stopping' && (phase.quick || !quick)) return this.done;
    if (phase.is === 'starting') {
      this.finish();
      return this.done;
    }
    this.upgrading?.abort('gsup is stopping', this.options.gracefulTimeout);
    if (phase.is === 'reloading') {
      const queued = phase.queued;
      phase.queued = null;
      if (phase.run) this.endReload(phase.run, { outcome: 'abandoned', error: 'gsup is stopping' });
      for (const resolve of queued ?? []) resolve(notReloading('gsup is stopping'));
    }
    this.moveTo({ is: 'stopping', quick });
    this.say({ type: 'stop-begin', quick, gracefulTimeoutS: this.options.gracefulTimeout });
    for (const w of this.workers.values()) {
      if (quick) w.quit();
      else w.drain(this.options.gracefulTimeout * 1000);
    }
    this.finishIfEmpty();
    return this.done;
  }

  /** Asks every live worker to reopen its log files (SIGUSR1: logrotate moved them). */
  reopenLogs(): void {
    for (const w of this.workers.values()) if (w.active) w.proc.send({ t: 'reopen-logs' });
  }

  /**
   * Upgrades gsup itself: starts the gsup now on disk with the same command line, handing it the
   * listening sockets; once all its workers are ready it takes over and this one drains and exits.
   * If it cannot get there, it is stopped and this one keeps serving. One at a time, never during
   * a reload.
   */
  upgrade(): Promise<UpgradeResult> {
    const phase = this.phase.is;
    let refusal: string | null = null;
    if (phase === 'starting') refusal = 'gsup is still starting';
    else if (phase === 'stopping' || phase === 'stopped') refusal = 'gsup is stopping';
    else if (this.upgrading) refusal = this.upgradeRuns();
    else if (phase === 'reloading') refusal = 'a reload is running; upgrade once it is done';
    const reexec =
      refusal ??
      this.deps.reexec?.() ??
      'this pool was not started by the gsup command, so there is no command line to re-execute';
    if (typeof reexec === 'string') {
      const message = this.say({ type: 'upgrade-refused', reason: reexec }).message;
      return Promise.resolve({ ok: false, message, newPid: null });
    }
    const o = this.options;
    const run = new UpgradeRun(
      {
        say: (body) => this.say(body).message,
        canHandOver: () => !this.stopping,
        handOver: () => {
          // The new supervisor holds the sockets now; ours close, their files stay.
          this.keepSocketPaths = true;
          for (const l of this.sockets) l.close({ keepPath: true });
          this.sockets = [];
          void this.stop();
        },
        ended: () => {
          if (this.upgrading === run) this.upgrading = null;
        },
      },
      reexec,
      this.sockets,
      this.target,
      o.bootTimeout * UPGRADE_BOOT_TIMEOUTS + UPGRADE_START_S,
      o.gracefulTimeout,
    );
    this.upgrading = run;
    return run.result;
  }

  /** Said by the new supervisor of an upgrade once it answers the control socket. */
  tookOver(oldPid: number): void {
    this.say({ type: 'upgrade-took-over', oldPid, newPid: process.pid });
  }

  /** Records a warning from outside the pool (a hook that threw, garbage on a channel). */
  warn(message: string): void {
    this.say({ type: 'warning', text: message });
  }

  /** Records an event from a part of gsup that runs beside the pool (the metrics server). */
  record(body: EventBody): PoolEvent {
    return this.say(body);
  }

  /** Records a signal that gsup received and ignores on purpose (USR2, WINCH, PIPE, ...). */
  signalIgnored(signal: string, why: string, warn: boolean): void {
    this.say({ type: 'signal-ignored', signal, why, warn });
  }

  /** What the workers run, as the snapshot says it. */
  private workerClassInfo(): NonNullable<PoolSnapshot['workerClass']> {
    const o = this.options;
    if (o.workerClass === 'wsgi') return { kind: 'wsgi', python: o.python ?? 'python3' };
    return { kind: o.workerClass ?? 'node' };
  }

  /** The one model of the pool that every view reads. */
  snapshot(): PoolSnapshot {
    const now = monotonic();
    const run = this.run;
    // After a stall of our own (or in one) heartbeats are still queued: nobody looks silent for it.
    const quietFrom = now - this.lastTick > STALL_MS ? now : this.stallEndedAt;
    const workers = [...this.workers.values()]
      .sort((a, b) => a.slot - b.slot || a.id - b.id)
      .map((w) =>
        workerSnapshot(
          w,
          this.slots.get(w.slot),
          this.replacing(w),
          now,
          heartbeatMs(this.options.timeout),
          quietFrom,
        ),
      );
    const held = new Set(
      [...this.workers.values()].filter((w) => w.active && !isStale(w, run)).map((w) => w.slot),
    );
    return {
      at: Date.now(),
      pid: process.pid,
      app: this.options.app,
      listening: this.sockets.map((l) => l.url),
      versions: { gsup: VERSION, node: process.version },
      workerClass: this.workerClassInfo(),
      state: this.phase.is,
      uptimeMs: now - this.startedAt,
      target: this.target,
      maxWorkers: this.options.maxWorkers,
      live: workers.length,
      ready: workers.filter((w) => w.state === 'ready').length,
      timeoutMs: this.options.timeout * 1000,
      utilization: poolUtilization(workers),
      autoscale: this.adapter.autoscaleState(this.options.maxWorkers),
      memory: this.adapter.memoryState(),
      totals: this.totals.sum(workers),
      reload: run
        ? {
            newReady: workers.filter((w) => w.gen === run.gen && w.state === 'ready').length,
            oldLeft: workers.filter((w) => w.gen < run.gen).length,
            oldTotal: run.oldTotal,
            startedAt: Date.now() - (now - run.startedAt),
          }
        : null,
      workers,
      slots: this.totals.slots(this.workers.values()),
      waiting: this.slots.waiting(now, held, this.target),
      events: this.events.slice(-EVENTS_KEPT),
    };
  }

  /** Milliseconds since the periodic step last ran; null while it is not running (a watchdog reads it). */
  get tickAgeMs(): number | null {
    return this.timers.length > 0 ? monotonic() - this.lastTick : null;
  }

  /** The address clients reach, e.g. `http://127.0.0.1:8000`. */
  get urls(): string[] {
    return this.sockets.map((l) => l.url);
  }

  /** Says so when the kernel cuts the listen queue shorter than --backlog asks. */
  private checkBacklog(backlog: number): void {
    const cap = somaxconn();
    if (this.sockets.length > 0 && cap !== null && backlog > cap) {
      this.say({ type: 'backlog-capped', backlog, cap });
    }
  }

  // ---- the periodic step ------------------------------------------------------------------

  private tick(): void {
    const now = monotonic();
    // If the supervisor itself was stalled (a blocking log write, a suspended process), the
    // heartbeats that arrived meanwhile are still queued behind this timer: judge no worker on
    // stale data. The next tick, a moment later, sees them.
    const stalled = now - this.lastTick > STALL_MS;
    if (stalled) this.stallEndedAt = now;
    this.lastTick = now;
    this.manage(!stalled);
    this.balance();
  }

  /**
   * Keep-alive balance: each ready worker learns its share of the pool's connections (balance.ts).
   * A worker silent for a few heartbeats is left out: its event loop is blocked, so it accepts
   * nothing, and the connections others shed toward it would only come back to them.
   */
  private balance(): void {
    const now = monotonic();
    const silentMs = BALANCE_SILENT_BEATS * heartbeatMs(this.options.timeout);
    const ready = [...this.workers.values()].filter(
      (w) => w.state === 'ready' && w.lastHeartbeat !== null && now - w.lastHeartbeat <= silentMs,
    );
    const on = this.options.balance !== false;
    this.balancer.update(
      ready.map((w) => ({ id: w.id, send: (msg) => w.proc.send?.(msg) })),
      on,
    );
  }

  /** Asks the pool's rules what to do now, and does it. Only the tick judges timeouts. */
  private manage(judge = false): void {
    if (this.managing || this.phase.is === 'stopped') return;
    this.managing = true;
    try {
      for (const action of planPool(this.planInput(judge))) this.apply(action);
    } finally {
      this.managing = false;
    }
  }

  private planInput(judge: boolean): PlanInput {
    const phase = this.phase.is;
    return {
      now: monotonic(),
      managing: phase === 'running' || phase === 'reloading',
      target: this.target,
      workers: [...this.workers.values()],
      retryAt: this.slots.retryAt(),
      reload: this.run,
      timeoutS: this.options.timeout,
      bootTimeoutS: this.options.bootTimeout,
      judge,
      everReady: this.everReady,
      bootFailuresInARow: this.bootFailuresInARow,
      lastBootError: this.lastBootError,
    };
  }

  private apply(a: Action): void {
    if (a.do === 'spawn') this.spawnWorker(a.slot);
    else if (a.do === 'reload-done') this.reloadDone();
    else if (a.do === 'roll-back') this.rollBack(a.error);
    else if (a.do === 'give-up') this.giveUp(a.error);
    else {
      const w = this.workers.get(a.id);
      if (!w) return;
      if (a.do === 'murder') this.murder(w, a.why, a.silentMs);
      else if (a.do === 'drain') {
        this.say({ type: 'worker-drain', slot: w.slot, pid: w.pid, why: a.why });
        w.drain(this.options.gracefulTimeout * 1000);
      } else {
        if (a.why === 'drain-overdue') {
          const gracefulTimeoutS = this.options.gracefulTimeout;
          this.say({ type: 'drain-overdue', slot: w.slot, pid: w.pid, gracefulTimeoutS });
        }
        w.kill();
      }
    }
  }

  /** SIGINT for the stuck stack (--trace-sigint), SIGKILL after a short grace. */
  private murder(w: WorkerHandle, why: 'timeout' | 'boot-timeout', silentMs: number): void {
    const { timeout, bootTimeout } = this.options;
    if (why === 'boot-timeout') {
      w.bootError ??= { message: `not ready after ${bootTimeout}s (boot timeout)`, where: null };
      this.say({
        type: 'worker-boot-timeout',
        slot: w.slot,
        pid: w.pid,
        bootTimeoutS: bootTimeout,
      });
    } else {
      this.say({ type: 'worker-timeout', slot: w.slot, pid: w.pid, silentMs, timeoutS: timeout });
    }
    w.murder(why);
  }

  /**
   * Once per usage poll: the adapting pool (./adapt.ts). Autoscale may move the wanted count;
   * memory recycling may recycle one worker. Both go through the usual methods and events.
   */
  private adaptPool(freshUsage: boolean): void {
    const phase = this.phase.is;
    if (phase !== 'running' && phase !== 'reloading') return;
    const facts = {
      now: monotonic(),
      target: this.target,
      maxWorkers: this.options.maxWorkers,
      reloading: phase === 'reloading',
      workers: [...this.workers.values()],
      sockets: this.sockets,
      freshUsage,
    };
    const change = this.adapter.scaleStep(facts);
    if (change) {
      const { direction, from, to, reason, signals } = change;
      this.say({ type: 'autoscale', direction, from, to, reason, signals });
      this.setTarget(to);
      this.manage();
    }
    const over = this.adapter.memoryStep(facts);
    if (over) {
      const { rssBytes, limitBytes, samples } = over;
      this.recycle(over.pid, over.why, { rssBytes, limitBytes, samples });
    }
  }

  // ---- workers ----------------------------------------------------------------------------

  private spawnWorker(slot: number): void {
    const o = this.options;
    const jitter =
      o.maxRequestsJitter > 0 ? Math.floor(Math.random() * (o.maxRequestsJitter + 1)) : 0;
    const extraFds: number[] = [];
    const format = o.accessLogFormat ?? DEFAULT_ACCESS_FORMAT;
    let accessLog: WorkerConfig['accessLog'] = null;
    if (o.accessLog === '-') {
      // gsup's own stdout, handed down after the sockets and the channel (fd 3+N): workers write
      // to it directly.
      accessLog = { fd: 4 + this.sockets.length, format };
      extraFds.push(1);
    } else if (o.accessLog) {
      accessLog = { path: o.accessLog, format };
    }
    const config: WorkerConfig = {
      app: o.app,
      cwd: o.cwd,
      fds: this.sockets.map((_, i) => 3 + i),
      accessLog,
      backlog: o.backlog,
      heartbeatMs: heartbeatMs(o.timeout),
      maxRequests: o.maxRequests > 0 ? o.maxRequests + jitter : 0,
      drainIdleMs: DRAIN_IDLE_MS,
    };
    let w: WorkerHandle | null = null;
    const proc = this.deps.spawn(
      {
        config,
        slot,
        nodeArgs: o.nodeArgs,
        cwd: o.cwd,
        env: o.env,
        ...(o.uid !== undefined ? { uid: o.uid } : {}),
        ...(o.gid !== undefined ? { gid: o.gid } : {}),
        fds: this.sockets.map((l) => l.fd),
        extraFds,
        workerClass: o.workerClass ?? 'node',
        python: o.python ?? 'python3',
        readyPattern: o.readyPattern ?? null,
      },
      {
        spawned: () => {
          if (!w?.moveTo('booting')) return;
          this.say({ type: 'worker-spawn', slot, pid: w.pid, gen: w.gen });
        },
        failed: (err) => {
          if (!w) return;
          w.bootError = { message: `cannot start a worker process: ${err.message}`, where: null };
          this.reap(w, null, null);
        },
        message: (raw) => w && this.onMessage(w, raw),
        line: (stream, line) => {
          if (!w) return;
          // Node's SIGINT trace of a stuck worker is shown once, by its exit event, not echoed.
          if (stream === 'stderr' && w.stderrLine(line)) return;
          this.keepOutput({ slot, pid: w.pid, stream, line });
          this.emit('output', { slot, pid: w.pid, stream, line });
        },
        exited: (code, signal) => w && this.reap(w, code, signal),
      },
    );
    w = new WorkerHandle(this.nextId++, slot, this.gen, proc, o.workerClass ?? 'node');
    this.workers.set(w.id, w);
  }

  /** What each IPC message means: one handler per message type. */
  private readonly handlers: {
    [T in WorkerMessage['t']]: (w: WorkerHandle, msg: Extract<WorkerMessage, { t: T }>) => void;
  } = {
    ready: (w) => this.workerReady(w),
    hb: (w, msg) => {
      w.recordHeartbeat(msg.stats);
      this.balancer.report(w.id, msg.stats.conns);
    },
    conns: (w, msg) => {
      if (w.stats) w.stats.conns = msg.conns;
      this.balancer.report(w.id, msg.conns);
    },
    alive: (w) => {
      w.lastHeartbeat = monotonic();
    },
    'boot-error': (w, msg) => {
      w.bootError = { message: msg.message, where: msg.where };
    },
    recycle: (w, msg) => {
      this.recycle(w.pid, `reached max-requests (${msg.requests} requests)`);
    },
    warn: (w, msg) => {
      // A worker spamming warnings must not flood the log and push real events out of it.
      w.warnings++;
      if (w.warnings > WARNINGS_LOGGED) return;
      const more = w.warnings === WARNINGS_LOGGED;
      this.say({ type: 'worker-warning', slot: w.slot, pid: w.pid, text: msg.message, more });
    },
    'app-listens': (w, msg) => {
      if (this.appListensSaid.has(msg.address) || this.appListensSaid.size >= WARNINGS_LOGGED)
        return;
      this.appListensSaid.add(msg.address);
      this.say({
        type: 'app-listens',
        slot: w.slot,
        pid: w.pid,
        address: msg.address,
        where: msg.where,
      });
    },
  };

  /** Addresses the app opened itself that were already reported: one warning each, not one per worker. */
  private readonly appListensSaid = new Set<string>();

  private onMessage(w: WorkerHandle, raw: unknown): void {
    const msg = parseWorkerMessage(raw);
    if (typeof msg === 'string') {
      w.badMessages++;
      if (w.badMessages > BAD_MESSAGES_LOGGED) return;
      const more = w.badMessages === BAD_MESSAGES_LOGGED;
      this.say({ type: 'worker-bad-message', slot: w.slot, pid: w.pid, text: msg, more });
      return;
    }
    (this.handlers[msg.t] as (w: WorkerHandle, m: WorkerMessage) => void)(w, msg);
  }

  private workerReady(w: WorkerHandle): void {
    // A worker already being killed for a timeout must not pass as ready (or as a canary).
    if (w.timedOut || !w.moveTo('ready')) return;
    w.lastHeartbeat = monotonic();
    this.everReady = true;
    this.bootFailuresInARow = 0;
    this.slots.ready(w.slot);
    const bootMs = Math.round(monotonic() - w.spawnedAt);
    this.say({ type: 'worker-ready', slot: w.slot, pid: w.pid, gen: w.gen, bootMs });
    if (!this.announcedReady && this.countReady() >= this.target) {
      this.announcedReady = true;
      this.say({ type: 'pool-ready', workers: this.target });
    }
    const run = this.run;
    if (run && w.gen === run.gen && !run.canaryPassed) {
      run.canaryPassed = true;
      this.say({ type: 'reload-canary-ready', pid: w.pid, gen: run.gen });
    }
    this.manage();
  }

  /** A worker exited: record why, count it, and let the pool replace it. */
  private reap(w: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const was = w.state;
    if (!w.moveTo('exited')) return;
    this.workers.delete(w.id);
    this.totals.exited(w);
    const cause = w.exitCause(was);
    const reason = WorkerHandle.exitReason(cause, code, signal);
    const restart = cause === 'timeout' || cause === 'crashed' || cause === 'killed';
    if (restart) this.totals.restarts++;
    this.slots.exited(w.slot, reason, restart);
    // A timeout's event carries the stack, whose frames every view prints under its line.
    const where = w.timedOut ? w.whereStuck(cause === 'timeout') : undefined;
    // A boot that timed out says where it was stuck once, in its boot failure line.
    if (cause === 'boot-timeout' && w.bootError && where) {
      w.bootError = { ...w.bootError, message: `${w.bootError.message}; ${where}` };
    }
    this.say(
      {
        type: 'worker-exit',
        slot: w.slot,
        pid: w.pid,
        gen: w.gen,
        code,
        signal,
        cause,
        reason,
        ...(where ? { where } : {}),
        stopping: this.stopping,
      },
      cause === 'timeout' ? (w.stuckStack ?? []) : undefined,
    );
    if ((cause === 'boot-failed' || cause === 'boot-timeout') && !this.stopping) {
      this.bootFailed(w, code, signal);
    }
    this.finishIfEmpty();
    this.manage();
  }

  private bootFailed(w: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = exitHow(code, signal);
    const error = w.bootError
      ? `${w.bootError.message}${w.bootError.where ? ` (at ${w.bootError.where})` : ''}`
      : `exited (${how}) before it was ready${code === WORKER_BOOT_ERROR ? '' : '; see its output above'}`;
    const run = this.run;
    if (run && w.gen === run.gen) {
      // The new code cannot boot: the plan rolls the reload back.
      this.say({
        type: 'worker-boot-failed',
        slot: w.slot,
        pid: w.pid,
        error,
        same: false,
        retryInMs: null,
      });
      run.failed ??= error;
      return;
    }
    this.bootFailuresInARow++;
    const retryInMs = this.slots.bootFailed(w.slot, monotonic());
    const same = error === this.lastBootError;
    this.lastBootError = error;
    this.say({ type: 'worker-boot-failed', slot: w.slot, pid: w.pid, error, same, retryInMs });
  }

  private giveUp(error: string): void {
    this.say({ type: 'give-up', error });
    this.exitCode = EXIT_BOOT_ERROR;
    void this.stop({ quick: true });
  }

  // ---- reload -----------------------------------------------------------------------------

  /** Re-reads the config (if the front end gave a way to), applies it, then rolls the workers. */
  private async prepareReload(waiters: Array<(r: ReloadResult) => void>): Promise<void> {
    this.say({ type: 'reload-begin' });
    let refused: string | null = null;
    let count: string | null = null;
    try {
      const next = this.options.reloadConfig ? await this.options.reloadConfig() : null;
      if (typeof next === 'string') refused = next;
      else if (next && !this.stopping) {
        count = await this.applyOptions(next.options);
        next.accept();
        for (const note of next.notes) this.say({ type: 'config-note', note });
      }
    } catch (err) {
      refused = (err as Error).message;
    }
    const phase = this.phase;
    if (phase.is !== 'reloading') {
      // A stop came while the config was read.
      for (const resolve of waiters) resolve(notReloading('gsup is stopping'));
      this.say({
        type: 'reload-end',
        ok: false,
        outcome: 'not-started',
        error: 'gsup is stopping',
      });
      return;
    }
    if (refused !== null) {
      const result = this.say({
        type: 'reload-end',
        ok: false,
        outcome: 'refused',
        error: refused,
      });
      for (const resolve of waiters) resolve({ ok: false, message: result.message });
      this.moveTo({ is: 'running' });
      this.runQueued(phase.queued);
      return;
    }
    this.beginReload(waiters, count);
  }

  /**
   * Puts re-read options in force, replaced whole; each applies as `APPLIES` says (reconfigure.ts).
   * Returns why the worker count is what it is, when that needs saying.
   */
  private async applyOptions(next: PoolOptions): Promise<string | null> {
    const prev = this.options;
    const bound = await rebind(this.sockets, next);
    try {
      await startListening(bound.added, next.backlog);
    } catch (err) {
      // Workers listen on these anyway; a failure here only means they refuse until then.
      this.say({ type: 'warning', text: (err as Error).message });
    }
    this.sockets = bound.sockets;
    this.retiredSockets.push(...bound.retired);
    for (const l of bound.added) this.say({ type: 'listening', url: l.url });
    const changed = changes(prev, next);
    this.adapter.reconfigure(next.adapt ?? ADAPT_DEFAULTS);
    if (next.backlog !== prev.backlog) this.checkBacklog(next.backlog);
    this.options = { ...next, ...(prev.reloadConfig ? { reloadConfig: prev.reloadConfig } : {}) };
    if (changed.length) this.say({ type: 'config-changed', changes: changed });
    const count = workerCount(prev, next, this.target);
    this.setTarget(count.to);
    return count.why;
  }

  private beginReload(waiters: Array<(r: ReloadResult) => void>, count: string | null): void {
    const phase = this.phase;
    if (phase.is !== 'reloading') return;
    this.gen++;
    const old = [...this.workers.values()].filter((w) => w.active);
    phase.run = {
      gen: this.gen,
      canaryPassed: false,
      failed: null,
      startedAt: monotonic(),
      oldTotal: old.length,
      count,
      waiters,
    };
    this.totals.reloads++;
    this.say({
      type: 'reload-start',
      gen: this.gen,
      replacing: old.length,
      workers: this.target,
      count,
    });
    this.manage();
  }

  private reloadDone(): void {
    const run = this.run;
    if (!run) return;
    const newReady = [...this.workers.values()].filter(
      (w) => w.active && !w.recycling && w.state === 'ready',
    ).length;
    const seconds = (monotonic() - run.startedAt) / 1000;
    this.endReload(run, { outcome: 'done', newReady, oldDrained: run.oldTotal, seconds });
  }

  private rollBack(error: string): void {
    const run = this.run;
    if (!run) return;
    for (const w of this.workers.values()) {
      if (w.gen === run.gen && (w.state === 'booting' || w.state === 'spawning')) {
        w.drain(this.options.gracefulTimeout * 1000);
      }
    }
    const serving = [...this.workers.values()].filter((w) => w.active);
    const onNew = serving.filter((w) => w.gen === run.gen).length;
    this.endReload(run, { outcome: 'rolled-back', error, serving: serving.length, onNew });
  }

  private endReload(
    run: ReloadRun,
    end: Omit<Extract<EventBody, { type: 'reload-end' }>, 'type' | 'ok'>,
  ): void {
    const phase = this.phase;
    const queued = phase.is === 'reloading' ? phase.queued : null;
    if (phase.is === 'reloading') this.moveTo({ is: 'running' });
    const ok = end.outcome === 'done';
    const count = ok && run.count ? { count: run.count } : {};
    const event = this.say({ type: 'reload-end', ok, ...end, ...count });
    const result: ReloadResult = { ok, message: event.message };
    for (const resolve of run.waiters) resolve(result);
    for (const l of this.retiredSockets.splice(0)) {
      l.close();
      this.say({ type: 'unlistening', url: l.url });
    }
    this.runQueued(queued);
  }

  private runQueued(queued: Array<(r: ReloadResult) => void> | null): void {
    if (!queued) return;
    setImmediate(() => {
      if (this.phase.is !== 'running') {
        for (const resolve of queued) resolve(notReloading('gsup is stopping'));
        return;
      }
      this.moveTo({ is: 'reloading', run: null, queued: null });
      void this.prepareReload(queued);
    });
  }

  // ---- stopping ---------------------------------------------------------------------------

  private finishIfEmpty(): void {
    if (this.phase.is === 'stopping' && this.workers.size === 0) this.finish();
  }

  private finish(): void {
    if (this.phase.is === 'stopped') return;
    this.moveTo({ is: 'stopped' });
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const keepPath = this.keepSocketPaths || this.upgrading?.committed === true;
    for (const l of [...this.sockets, ...this.retiredSockets.splice(0)]) l.close({ keepPath });
    this.say({ type: 'stopped', code: this.exitCode });
    this.resolveDone(this.exitCode);
  }

  // ---- facts, derived in one place --------------------------------------------------------

  /** A bound socket, or the one an upgrade's old supervisor handed down for the same bind. */
  private async openSocket(spec: Listener['spec']): Promise<Listener> {
    const inherited = this.deps.inherited?.sockets;
    const key = formatBind(spec);
    const fd = inherited?.get(key);
    if (fd === undefined) return openListener(spec);
    inherited?.delete(key);
    return adoptListener(spec, fd);
  }

  /** Why a reload, a scale or another upgrade is refused while an upgrade runs. */
  private upgradeRuns(): string {
    return `an upgrade of gsup is running (new gsup pid ${this.upgrading?.newPid ?? '?'}); try again once it is done or failed`;
  }

  /** The reload run in progress, if any. */
  private get run(): ReloadRun | null {
    return this.phase.is === 'reloading' ? this.phase.run : null;
  }

  private get stopping(): boolean {
    return this.phase.is === 'stopping' || this.phase.is === 'stopped';
  }

  /** Why a worker is being replaced, as the views show it. */
  private replacing(w: WorkerHandle): 'reload' | 'recycle' | null {
    if (!isActive(w)) return null;
    if (w.recycling) return 'recycle';
    return isStale(w, this.run) ? 'reload' : null;
  }

  private moveTo(next: Phase): void {
    if (!canMove(this.phase.is, next.is)) {
      throw new Error(`gsup bug: the pool cannot move from ${this.phase.is} to ${next.is}`);
    }
    this.phase = next;
  }

  private setTarget(to: number): void {
    if (to === this.target) return;
    this.say({ type: 'scale', from: this.target, to });
    this.target = to;
    this.adapter.changed(monotonic());
  }

  private countReady(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.state === 'ready') n++;
    return n;
  }

  private byPid(pid: number): WorkerHandle | undefined {
    for (const w of this.workers.values()) if (w.pid === pid) return w;
    return undefined;
  }

  /** The newest lines the workers wrote, oldest first, each with its time. */
  recentOutput(): Array<WorkerOutput & { at: number }> {
    return this.outputKept.slice(-OUTPUT_KEPT);
  }

  private keepOutput(o: WorkerOutput): void {
    const line =
      o.line.length > MAX_MESSAGE_CHARS ? `${o.line.slice(0, MAX_MESSAGE_CHARS)}…` : o.line;
    this.outputKept.push({ ...o, line, at: Date.now() });
    if (this.outputKept.length > OUTPUT_KEPT * 2)
      this.outputKept.splice(0, this.outputKept.length - OUTPUT_KEPT);
  }

  /** Emits one typed event, and keeps it for the snapshot unless it is debug-level. */
  private say(body: EventBody, stack?: string[]): PoolEvent {
    const event = stamp(body, stack);
    if (event.level !== 'debug') {
      this.events.push(event);
      if (this.events.length > EVENTS_KEPT * 2)
        this.events.splice(0, this.events.length - EVENTS_KEPT);
    }
    this.emit('event', event);
    return event;
  }
}

function notReloading(why: string): ReloadResult {
  return { ok: false, message: `not reloading: ${why}` };
}
