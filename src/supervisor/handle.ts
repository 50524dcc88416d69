// Runs in the supervisor: its handle of one worker process. The handle owns the worker's
// lifecycle (`moveTo`, the only place a state changes), its deadlines (the next SIGKILL, the
// drain deadline), how it is being ended, the stack it prints when stuck, and its name.

import { monotonic } from '../clock.js';
import { type ExitCause, exitHow } from '../events.js';
import type { SparseHistogram } from '../histogram.js';
import { BUCKETS, quantile } from '../histogram.js';
import type { WorkerStats } from '../ipc.js';
import { captureStack } from './inspector-stack.js';
import type { Ending, PlanWorker } from './plan.js';
import type { WorkerState } from './snapshot.js';
import type { WorkerClass, WorkerProcess } from './spawn.js';

/** Which lifecycle moves are legal. Anything may exit; nothing leaves `exited`. */
const MOVES: Record<WorkerState, WorkerState[]> = {
  spawning: ['booting', 'draining', 'exited'],
  booting: ['ready', 'draining', 'exited'],
  ready: ['draining', 'exited'],
  draining: ['exited'],
  exited: [],
};

/** How far back latency percentiles and utilization look. */
const WINDOW_MS = 10_000;
/**
 * How far back req/s looks: "now", as heartbeats (about one a second) allow. The rate is taken
 * between the last heartbeat and the newest one at least 3/4 of this before it (two heartbeats
 * back at the usual period), so it counts whole heartbeat intervals and falls to 0 two
 * heartbeats after the traffic stops.
 */
export const RATE_WINDOW_MS = 2000;
/** After SIGINT on a timeout, how long Node gets to print the stuck stack before SIGKILL. */
const STACK_GRACE_MS = 1500;
/** No KEYBOARD_INTERRUPT line this long after SIGINT: the app listens for SIGINT; ask the inspector. */
const SIGINT_ANSWER_MS = 500;
/** The whole grace of a timeout kill that falls back to the inspector: SIGKILL by then, whatever happens. */
const INSPECTOR_GRACE_MS = 3500;
/** Node prints this on stderr once SIGUSR1 opened the inspector. */
const INSPECTOR_LINE = /^Debugger listening on (ws:\/\/\S+)/;
/** What Node prints when its inspector opens, is dialled and is left: not the app's output. */
const INSPECTOR_NOTICE =
  /^(Debugger listening on |For help, see: |Debugger attached\.|Debugger ending on )/;
/** A frame of Python's faulthandler dump: `  File "/app/views.py", line 7 in spin`. */
const PYTHON_FRAME = /^\s+File "(.*)", line (\d+) in (.*)$/;
/** A worker drained before it was ready gets this long to exit before SIGKILL. */
const NOT_READY_GRACE_MS = 2000;
/** After SIGQUIT on a quick stop, how long before SIGKILL. */
const QUICK_STOP_GRACE_MS = 1000;

/**
 * Requests per second between the last heartbeat sample and the newest one at least 3/4 of
 * `windowMs` before it: whole heartbeat intervals, so the phase at which they arrive does not
 * matter. If none is that old, from `start` (when the worker became ready, with 0 requests: a
 * new worker has a rate from its first heartbeat on), else from the oldest sample.
 */
export function currentRate(
  samples: ReadonlyArray<{ at: number; requests: number }>,
  windowMs = RATE_WINDOW_MS,
  start?: { at: number; requests: number },
): number {
  const last = samples[samples.length - 1];
  if (!last) return 0;
  let first = start && start.at < last.at ? start : samples[0];
  for (let i = samples.length - 2; i >= 0; i--) {
    const s = samples[i];
    if (s && last.at - s.at >= windowMs * 0.75) {
      first = s;
      break;
    }
  }
  if (!first || last.at === first.at) return 0;
  return ((last.requests - first.requests) * 1000) / (last.at - first.at);
}

export class WorkerHandle implements PlanWorker {
  state: WorkerState = 'spawning';
  readonly spawnedAt = monotonic();
  readyAt: number | null = null;
  lastHeartbeat: number | null = null;
  stats: WorkerStats | null = null;
  cpu: number | null = null;
  /** CPU time (user + system) in seconds, as last read from outside; null before the first read. */
  cpuSeconds: number | null = null;
  rss: number | null = null;
  /** Every latency it reported since boot, per histogram bucket: what the metrics' histogram sums. */
  readonly latencyTotal = new Float64Array(BUCKETS);
  /** Asked to be replaced (max-requests, `k`): it keeps serving until its successor is ready. */
  recycling = false;
  /** Why it is being recycled ("rss 530 MB over 512 MB for 3 samples"), for the views. */
  recycleWhy: string | null = null;
  ending: Ending | null = null;
  /** When to send SIGKILL, if the worker is still alive then. */
  killAt: number | null = null;
  drainDeadline: number | null = null;
  /** The stack Node printed on SIGINT (--trace-sigint), innermost frame first; null if not asked. */
  stuckStack: string[] | null = null;
  /** Node announced its SIGINT trace (frames may follow, or none if the loop was idle). */
  private sigintSeen = false;
  /** When the timeout kill began; the inspector fallback must end within INSPECTOR_GRACE_MS of it. */
  private murderedAt: number | null = null;
  /** SIGUSR1 was sent: the inspector is asked too (SIGINT's trace, if merely late, still counts). */
  private inspectorAsked = false;
  /** Python's faulthandler dump: whether the block being read is the one kept, and if the current thread's was seen. */
  private pyBlock: 'take' | 'skip' = 'skip';
  private pyCurrentSeen = false;
  /** Where the frames in `stuckStack` came from. */
  private stackFrom: 'sigint' | 'inspector' | null = null;
  /** The inspector was dialled once already: one capture per kill. */
  private inspectorDialled = false;
  bootError: { message: string; where: string | null } | null = null;
  badMessages = 0;
  warnings = 0;
  private samples: Array<{
    at: number;
    requests: number;
    busyMs: number;
    latency: SparseHistogram;
  }> = [];

  constructor(
    readonly id: number,
    readonly slot: number,
    /** The reload generation whose code this worker loaded. */
    readonly gen: number,
    readonly proc: WorkerProcess,
    /** What it runs: decides how its stuck stack is asked for (murder) and read (stderrLine). */
    readonly kind: WorkerClass = 'node',
  ) {}

  get pid(): number {
    return this.proc.pid;
  }

  /** "worker 2 (pid 123)": how every line names this worker. */
  get name(): string {
    return `worker ${this.slot} (pid ${this.pid})`;
  }

  /** Moves along the lifecycle; returns false (and stays) for a move that is not allowed. */
  moveTo(next: WorkerState): boolean {
    if (!MOVES[this.state].includes(next)) return false;
    this.state = next;
    if (next === 'ready') this.readyAt = monotonic();
    return true;
  }

  get live(): boolean {
    return this.state !== 'exited';
  }

  /** Serving or about to: not draining, not gone. */
  get active(): boolean {
    return this.state === 'spawning' || this.state === 'booting' || this.state === 'ready';
  }

  /** Being killed for a timeout: it must not pass as ready (or as a reload's canary). */
  get timedOut(): boolean {
    return this.ending === 'timeout' || this.ending === 'boot-timeout';
  }

  // ---- ending it ----------------------------------------------------------------------------

  /** Stop accepting, answer what it has, exit 0; SIGKILL after the graceful timeout. */
  drain(gracefulMs: number): void {
    if (!this.live || this.state === 'draining') return;
    const serving = this.state === 'ready';
    this.moveTo('draining');
    this.ending ??= 'drain';
    this.drainDeadline = monotonic() + gracefulMs;
    // A booting worker may already accept (its 'ready' can be in flight): SIGTERM lets it answer
    // what it took; with nothing to answer it exits at once. SIGKILL if it lingers.
    this.signal('SIGTERM');
    if (!serving) this.killAt = monotonic() + NOT_READY_GRACE_MS;
  }

  /** Quick stop: SIGQUIT (exit now), SIGKILL if it is still there soon after. */
  quit(): void {
    if (!this.live) return;
    // Before the runtime handles SIGQUIT its default action dumps core: not-ready workers get SIGKILL.
    const handlesQuit = this.state === 'ready' || this.state === 'draining';
    this.moveTo('draining');
    if (!this.timedOut) this.ending = 'quit';
    this.signal(handlesQuit ? 'SIGQUIT' : 'SIGKILL');
    this.killAt = Math.min(
      this.killAt ?? Number.POSITIVE_INFINITY,
      monotonic() + QUICK_STOP_GRACE_MS,
    );
  }

  /**
   * SIGINT first (Node prints the stuck JS stack: --trace-sigint), SIGKILL after a short grace.
   * If Node stays silent (the app listens for SIGINT), the inspector is asked instead.
   */
  murder(why: 'timeout' | 'boot-timeout'): void {
    this.ending = why;
    this.stuckStack = [];
    this.murderedAt = monotonic();
    if (this.kind === 'exec') {
      // Any program: there is no way to ask it for a stack.
      this.kill();
      return;
    }
    // node: --trace-sigint prints the JS stack and dies; wsgi: faulthandler dumps every thread's.
    this.signal('SIGINT');
    this.killAt = this.murderedAt + STACK_GRACE_MS;
    if (this.kind === 'node') setTimeout(() => this.askInspector(), SIGINT_ANSWER_MS).unref();
  }

  /** SIGUSR1 opens the worker's inspector (its port is 0: any free one); its URL arrives on stderr. */
  private askInspector(): void {
    if (!this.live || this.murderedAt === null || this.sigintSeen || this.stuckStack?.length)
      return;
    this.inspectorAsked = true;
    // The grace grows once, to a fixed bound: SIGKILL stays on time if the inspector never answers.
    this.killAt = Math.max(this.killAt ?? 0, this.murderedAt + INSPECTOR_GRACE_MS);
    this.signal('SIGUSR1');
  }

  /** Pauses the worker through its inspector and keeps the frames; SIGKILL follows at once either way. */
  private dialInspector(url: string): void {
    if (this.inspectorDialled || this.murderedAt === null) return;
    this.inspectorDialled = true;
    // Leave the arbiter a tick or two to send SIGKILL before the bound.
    const left = this.murderedAt + INSPECTOR_GRACE_MS - 250 - monotonic();
    void captureStack(url, left).then((frames) => {
      if (frames?.length && !this.stuckStack?.length) {
        this.stuckStack = frames;
        this.stackFrom = 'inspector';
      }
      // Paused or not, it has nothing more to tell: the next tick kills it.
      if (this.live && this.killAt !== null) this.killAt = Math.min(this.killAt, monotonic());
    });
  }

  /** SIGKILL now; `onRequest` when a person asked for it (K, the control socket). */
  kill(onRequest = false): void {
    if (onRequest && !this.timedOut) this.ending = 'killed';
    this.killAt = null;
    this.drainDeadline = null;
    this.signal('SIGKILL');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.pid <= 0 || !this.live) return;
    this.proc.kill(sig);
  }

  // ---- what it says -------------------------------------------------------------------------

  /**
   * A line of its stderr: part of the stuck stack while one is being collected. Returns true for
   * the lines of Node's own trace (KEYBOARD_INTERRUPT, its frames, the blank line after) and the
   * inspector's notices: the exit event shows the stack once, so they are not echoed as output.
   */
  stderrLine(line: string): boolean {
    if (this.stuckStack === null) return false;
    if (this.kind === 'wsgi') return this.pythonLine(line);
    if (/^\s+at /.test(line)) {
      // A SIGINT trace that comes late (a loaded machine) still counts, unless the inspector won.
      if (this.stackFrom !== 'inspector') {
        this.stuckStack.push(line.trim().replace(/^at /, ''));
        this.stackFrom = 'sigint';
      }
      return this.sigintSeen;
    }
    if (line.startsWith('KEYBOARD_INTERRUPT')) {
      this.sigintSeen = true;
      return true;
    }
    if (this.sigintSeen && line.trim() === '') return true;
    if (this.inspectorAsked) {
      const m = INSPECTOR_LINE.exec(line);
      if (m?.[1]) this.dialInspector(m[1]);
      return INSPECTOR_NOTICE.test(line);
    }
    return false;
  }

  /**
   * A line of faulthandler's dump (most recent call first, like Node's): the current thread's
   * frames are kept (the one the signal interrupted), else the first thread's.
   */
  private pythonLine(line: string): boolean {
    const stack = this.stuckStack;
    if (stack === null) return false;
    if (/^Current thread 0x/.test(line)) {
      this.sigintSeen = true;
      this.pyCurrentSeen = true;
      stack.length = 0;
      this.pyBlock = 'take';
      return true;
    }
    if (/^(Thread 0x|Stack )/.test(line)) {
      this.sigintSeen = true;
      this.pyBlock = !this.pyCurrentSeen && stack.length === 0 ? 'take' : 'skip';
      return true;
    }
    const m = PYTHON_FRAME.exec(line);
    if (m && this.pyBlock === 'take') {
      stack.push(`${m[3]} (${m[1]}:${m[2]})`);
      this.stackFrom = 'sigint';
    }
    // The dump's frames (and the blank line after it): shown once, in the exit event's stack.
    return m !== null || (this.sigintSeen && line.trim() === '');
  }

  /**
   * Where a timed-out worker was stuck, as one line. With `framesFollow` (the event carries the
   * stack, and every view prints its frames under the line) only the innermost function is named.
   */
  whereStuck(framesFollow = false): string {
    if (this.kind === 'exec') {
      return 'stack unknown: an exec worker cannot be asked for one';
    }
    const frames = this.stuckStack ?? [];
    if (this.kind === 'wsgi') {
      if (frames.length && framesFollow) return `stuck in ${frames[0]}`;
      return frames.length
        ? `stuck at ${frames.slice(0, 3).join(' ← ')}`
        : 'no stack was printed (faulthandler said nothing before SIGKILL)';
    }
    const via = this.stackFrom === 'inspector' ? ' (paused through the inspector)' : '';
    if (frames.length && framesFollow) {
      const fn = /^(.+?) \(/.exec(frames[0] ?? '')?.[1];
      return `${fn ? `stuck in ${fn}` : `stuck at ${frames[0]}`}${via}`;
    }
    if (frames.length) return `stuck at ${frames.slice(0, 3).join(' ← ')}${via}`;
    if (this.sigintSeen) {
      return 'no JavaScript was running: it was waiting (on I/O, a timer, or a promise that never settles)';
    }
    return this.inspectorAsked
      ? 'no stack: the app listens for SIGINT (which turns --trace-sigint off) and the inspector did not pause it in time (an idle loop never pauses; a --inspect flag of your own takes the port)'
      : 'no stack was printed (the app may listen for SIGINT, which turns --trace-sigint off)';
  }

  /** Why it exited, from how it was being ended and the state it was in. */
  exitCause(was: WorkerState): ExitCause {
    const booting = was === 'spawning' || was === 'booting';
    if (this.timedOut) return booting ? 'boot-timeout' : 'timeout';
    if (this.ending === 'killed') return 'killed';
    if (was === 'draining') return this.ending === 'quit' ? 'quit' : 'drained';
    if (booting) return 'boot-failed';
    return 'crashed';
  }

  /** The slot's last exit as the dashboard shows it. */
  static exitReason(cause: ExitCause, code: number | null, signal: string | null): string {
    switch (cause) {
      case 'timeout':
        return 'timeout';
      case 'boot-timeout':
        return 'boot timeout';
      case 'boot-failed':
        return 'boot failed';
      case 'killed':
        return 'killed';
      case 'drained':
      case 'quit':
        return code === 0 ? cause : exitHow(code, signal);
      case 'crashed':
        return exitHow(code, signal);
    }
  }

  recordHeartbeat(stats: WorkerStats): void {
    const now = monotonic();
    this.lastHeartbeat = now;
    this.stats = stats;
    for (const [bucket, n] of stats.latency) {
      if (bucket >= 0 && bucket < BUCKETS)
        this.latencyTotal[bucket] = (this.latencyTotal[bucket] ?? 0) + n;
    }
    this.samples.push({
      at: now,
      requests: stats.requests,
      busyMs: stats.busyMs,
      latency: stats.latency,
    });
    while (this.samples.length > 2 && (this.samples[0]?.at ?? now) < now - WINDOW_MS) {
      this.samples.shift();
    }
  }

  /** Requests per second now: over its last heartbeats, about RATE_WINDOW_MS (see there). */
  get rps(): number {
    return currentRate(
      this.samples,
      RATE_WINDOW_MS,
      this.readyAt === null ? undefined : { at: this.readyAt, requests: 0 },
    );
  }

  /**
   * The share (0..1) of the recent window this worker spent with requests in flight, or null
   * before two heartbeats. Measured by the worker's own clock, compared with the supervisor's.
   */
  get utilization(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at === first.at) return null;
    const share = (last.busyMs - first.busyMs) / (last.at - first.at);
    return Math.min(1, Math.max(0, share));
  }

  /**
   * The share (0..1) of the last `ms` (at least; from the last heartbeat that old) this worker
   * spent with requests in flight, or null before two heartbeats. Autoscaling reads it over a
   * window shorter than the views' 10 s, so it sees a load step within a few seconds.
   */
  utilizationOver(ms: number, now: number): number | null {
    const last = this.samples[this.samples.length - 1];
    let first = this.samples[0];
    for (const s of this.samples) {
      if (s.at > now - ms) break;
      first = s;
    }
    if (!first || !last || last.at === first.at) return null;
    const share = (last.busyMs - first.busyMs) / (last.at - first.at);
    return Math.min(1, Math.max(0, share));
  }

  /** A latency percentile (0..1) over the recent window, in ms. */
  latency(q: number): number | null {
    return quantile(
      this.samples.map((s) => s.latency),
      q,
    );
  }

  get requests(): number {
    return this.stats?.requests ?? 0;
  }
}
