// The one typed event stream of the pool. The supervisor emits these; hooks, the headless log,
// the JSON log, the dashboard, the control socket's subscribers, the tests and the benchmarks
// read them. The `message` is one view of an event (the text a person reads), made here in one
// place by `describe`: nothing should parse it to learn what happened.

/** How loud an event is. `debug` events are in the stream (and the JSON log) but not the text views. */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/** Why a worker stopped existing, as one value. */
export type ExitCause =
  /** Drained (stop, scale down, reload, recycle) and exited. */
  | 'drained'
  /** Told to exit now (quick stop). */
  | 'quit'
  /** Silent past the timeout: SIGINT for its stack, then SIGKILL. */
  | 'timeout'
  /** Not ready within the boot timeout. */
  | 'boot-timeout'
  /** Exited before it was ready. */
  | 'boot-failed'
  /** SIGKILLed on request (K, `gsup kill`, the control socket). */
  | 'killed'
  /** Exited while serving, unasked. */
  | 'crashed';

/** How a reload ended. */
export type ReloadOutcome = 'done' | 'rolled-back' | 'abandoned' | 'refused' | 'not-started';

interface Who {
  slot: number;
  pid: number;
}

/** What happened, with its details; `describe` turns each into the line a person reads. */
export type EventBody =
  | { type: 'listening'; url: string }
  | { type: 'unlistening'; url: string }
  /** The metrics and health endpoints (--metrics) listen at `url`, e.g. `http://127.0.0.1:9100`. */
  | { type: 'metrics-listening'; url: string }
  | ({ type: 'worker-spawn'; gen: number } & Who)
  | ({ type: 'worker-ready'; gen: number; bootMs: number } & Who)
  | { type: 'pool-ready'; workers: number }
  | ({ type: 'worker-drain'; why: 'scaled down' | 'replaced by reload' | 'recycled' } & Who)
  | ({
      type: 'worker-recycle';
      why: string;
      /** Set when it is recycled for memory: the reading and the limit, in bytes. */
      memory?: { rssBytes: number; limitBytes: number; samples: number };
    } & Who)
  | ({ type: 'worker-kill' } & Who)
  | ({ type: 'worker-timeout'; silentMs: number; timeoutS: number } & Who)
  | ({ type: 'worker-boot-timeout'; bootTimeoutS: number } & Who)
  | ({ type: 'drain-overdue'; gracefulTimeoutS: number } & Who)
  | ({
      type: 'worker-exit';
      gen: number;
      code: number | null;
      signal: string | null;
      cause: ExitCause;
      /** The slot's last exit as the dashboard shows it (`drained`, `timeout`, `code 1`, ...). */
      reason: string;
      /**
       * For a timeout: where it was stuck, as one line: the innermost function when `stack`
       * carries the frames, else why there are none.
       */
      where?: string;
      /** The pool was stopping: an exit is expected, not a crash to replace. */
      stopping: boolean;
    } & Who)
  | ({
      type: 'worker-boot-failed';
      error: string;
      /** The same error as the previous failed boot: said once, not per try. */
      same: boolean;
      /** Milliseconds until the slot boots again; null when a reload rolls back instead. */
      retryInMs: number | null;
    } & Who)
  | ({ type: 'worker-warning'; text: string; more: boolean } & Who)
  | ({ type: 'worker-bad-message'; text: string; more: boolean } & Who)
  | { type: 'scale'; from: number; to: number }
  | { type: 'scale-refused'; wanted: number; current: number; max: number }
  | {
      type: 'autoscale';
      direction: 'up' | 'down';
      from: number;
      to: number;
      /** Why, as one line: "utilization 0.93 over 3 s, 37 connections queued". */
      reason: string;
      /** The values decided on: mean utilization, most connections queued, mean lag (ms), over the window. */
      signals: {
        utilization: number | null;
        queued: number | null;
        lagMs: number | null;
        windowMs: number;
      };
    }
  | { type: 'autoscale-set'; enabled: boolean; min: number; max: number; workers: number }
  | { type: 'reload-queued' }
  /** A reload pass begins: the config is re-read, then the workers roll (or it is refused). */
  | { type: 'reload-begin' }
  | {
      type: 'reload-start';
      gen: number;
      replacing: number;
      workers: number;
      /** Why the reload runs with this many workers. */
      count: string | null;
    }
  | { type: 'reload-canary-ready'; pid: number; gen: number }
  | { type: 'config-changed'; changes: string[] }
  | { type: 'config-note'; note: string }
  | {
      type: 'reload-end';
      ok: boolean;
      outcome: ReloadOutcome;
      /** Filled per outcome: the error, the counts, the time taken. */
      error?: string;
      newReady?: number;
      oldDrained?: number;
      seconds?: number;
      serving?: number;
      onNew?: number;
      /** Why the reload ran with this many workers, when the count did not simply stay. */
      count?: string;
    }
  | { type: 'stop-begin'; quick: boolean; gracefulTimeoutS: number }
  | { type: 'give-up'; error: string }
  | { type: 'stopped'; code: number }
  | { type: 'warning'; text: string }
  /** The app opened a server of its own (`app.listen(3000)`); said once per address, not per worker. */
  | ({ type: 'app-listens'; address: string; where: string | null } & Who)
  /** --backlog is above the kernel's net.core.somaxconn: the socket's queue is `cap` long. */
  | { type: 'backlog-capped'; backlog: number; cap: number }
  | {
      type: 'signal-ignored';
      signal: string;
      /** Why gsup ignores it (see IGNORED_SIGNALS in src/commands.ts). */
      why: string;
      /** Someone likely meant something by it: shown as a warning, else a debug event. */
      warn: boolean;
    }
  // Upgrading gsup itself (USR2, `gsup upgrade`): the first four are said by the old supervisor,
  // `upgrade-took-over` by the new one. `upgrade-done` is the moment the new pid is the main one.
  | {
      type: 'upgrade-start';
      /** The new supervisor's pid. */
      newPid: number;
      /** How many listening sockets it inherited. */
      sockets: number;
      /** Seconds its workers get to be all ready before the upgrade is called off. */
      deadlineS: number;
    }
  | { type: 'upgrade-refused'; reason: string }
  | { type: 'upgrade-done'; oldPid: number; newPid: number; seconds: number }
  | { type: 'upgrade-failed'; oldPid: number; newPid: number | null; reason: string }
  | { type: 'upgrade-took-over'; oldPid: number; newPid: number };

export type EventType = EventBody['type'];

/** An event as it travels: what happened, when, how loud, and its line for people. */
export type PoolEvent = EventBody & {
  at: number;
  level: EventLevel;
  message: string;
  /** The worker it is about, if any (every view may read these without knowing the type). */
  slot?: number;
  pid?: number;
  /** For a timed-out worker's exit: its JS stack, innermost frame first. */
  stack?: string[];
};

/** An event with its level and line, ready to travel. */
export function stamp(body: EventBody, stack?: string[]): PoolEvent {
  const event: PoolEvent = {
    ...body,
    at: Date.now(),
    level: levelOf(body),
    message: describe(body),
  };
  if (stack?.length) event.stack = stack;
  return event;
}

/** A line a worker wrote to stdout or stderr. */
export interface WorkerOutput {
  slot: number;
  pid: number;
  stream: 'stdout' | 'stderr';
  line: string;
}

const who = (e: Who) => `worker ${e.slot} (pid ${e.pid})`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** How the exit of a process reads: `code 0`, `signal SIGKILL`. */
export function exitHow(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** The line a person reads for an event: the one text view of it. */
export function describe(e: EventBody): string {
  switch (e.type) {
    case 'listening':
      return `listening at ${e.url}`;
    case 'unlistening':
      return `no longer listening at ${e.url}`;
    case 'metrics-listening':
      return `metrics and health at ${e.url} (/metrics, /healthz, /readyz)`;
    case 'worker-spawn':
      return `booting ${who(e)}`;
    case 'worker-ready':
      return `${who(e)} ready in ${e.bootMs} ms`;
    case 'pool-ready':
      return `all ${e.workers} workers ready`;
    case 'worker-drain':
      return `draining ${who(e)}: ${e.why}`;
    case 'worker-recycle':
      return `recycling ${who(e)}: ${e.why}`;
    case 'worker-kill':
      return `killing ${who(e)} with SIGKILL, on request`;
    case 'worker-timeout':
      return `WORKER TIMEOUT: ${who(e)} sent no heartbeat for ${(e.silentMs / 1000).toFixed(1)}s (timeout ${e.timeoutS}s); sending SIGINT for its stack, then SIGKILL`;
    case 'worker-boot-timeout':
      return `${who(e)} not ready after ${e.bootTimeoutS}s; sending SIGINT for its stack, then SIGKILL`;
    case 'drain-overdue':
      return `${who(e)} did not drain within ${e.gracefulTimeoutS}s; SIGKILL`;
    case 'worker-exit':
      return exitLine(e);
    case 'worker-boot-failed': {
      if (e.retryInMs === null) return `${who(e)} failed to boot: ${e.error}`;
      const retry = `retrying in ${(e.retryInMs / 1000).toFixed(1)}s`;
      return e.same
        ? `${who(e)} failed to boot again (same error); ${retry}`
        : `${who(e)} failed to boot: ${e.error}; ${retry}`;
    }
    case 'worker-warning':
      return `${who(e)}: ${e.text}${e.more ? ' (further warnings from it are not logged)' : ''}`;
    case 'worker-bad-message':
      return `${who(e)} sent ${e.text}; ignored${e.more ? ' (further bad messages from it are ignored silently)' : ''}`;
    case 'scale':
      return `scaling from ${e.from} to ${e.to} workers`;
    case 'autoscale':
      return `autoscale ${e.from}→${e.to}: ${e.reason}`;
    case 'autoscale-set':
      return e.enabled
        ? `autoscale on: between ${e.min} and ${e.max} workers (now ${e.workers})`
        : `autoscale off: the pool stays at ${plural(e.workers, 'worker')}`;
    case 'scale-refused': {
      const limit = e.wanted < 1 ? 'never goes below 1' : `is capped at max-workers ${e.max}`;
      return `cannot scale to ${e.wanted}: the pool ${limit}; staying at ${e.current}`;
    }
    case 'reload-queued':
      return 'reload requested while one runs; one more will follow it';
    case 'reload-begin':
      return 'reload: re-reading the configuration';
    case 'reload-start':
      return `reload started: replacing ${e.replacing} workers with ${plural(e.workers, 'new worker')}${e.count ? ` (${e.count})` : ''}, one new worker first`;
    case 'reload-canary-ready':
      return `reload: the first new worker (pid ${e.pid}) is ready; replacing the rest`;
    case 'config-changed':
      return `config re-read: ${e.changes.join(', ')}`;
    case 'config-note':
      return e.note;
    case 'reload-end':
      return reloadLine(e);
    case 'stop-begin':
      return e.quick
        ? 'quick stop: workers exit now'
        : `graceful stop: draining workers (up to ${e.gracefulTimeoutS}s)`;
    case 'give-up':
      return `no worker could boot the app: ${e.error}. Fix the app and start again.`;
    case 'stopped':
      return 'stopped';
    case 'warning':
      return e.text;
    case 'app-listens':
      return `the app opened its own server on ${e.address}${e.where ? ` (${e.where})` : ''}: one worker serves that port alone, outside the pool, and the others cannot bind it. Remove the listen() call and export the app (module.exports = app, or export default app); gsup listens on --bind for every worker`;
    case 'backlog-capped':
      return `backlog ${e.backlog} is above the kernel's limit net.core.somaxconn (${e.cap}): the listen queue holds ${e.cap}; raise it with sysctl -w net.core.somaxconn=${e.backlog}, or lower --backlog`;
    case 'signal-ignored':
      return `received ${e.signal}, ignored: ${e.why}`;
    case 'upgrade-start':
      return `upgrade: started the new gsup (pid ${e.newPid}) with the ${plural(e.sockets, 'listening socket')}; the old workers serve until its workers are all ready (up to ${e.deadlineS}s)`;
    case 'upgrade-refused':
      return `upgrade refused: ${e.reason}`;
    case 'upgrade-done':
      return `upgrade done in ${e.seconds.toFixed(1)}s: the new gsup (pid ${e.newPid}) serves; this one (pid ${e.oldPid}) drains its workers and exits`;
    case 'upgrade-failed':
      return `upgrade failed: ${e.reason}; this gsup (pid ${e.oldPid}) keeps serving with its workers`;
    case 'upgrade-took-over':
      return `took over from the old gsup (pid ${e.oldPid}): this gsup (pid ${e.newPid}) now answers the control socket`;
  }
}

function exitLine(e: Extract<EventBody, { type: 'worker-exit' }>): string {
  const how = exitHow(e.code, e.signal);
  switch (e.cause) {
    case 'timeout':
      return `${who(e)} killed after timeout (${how}); ${e.where ?? ''}`;
    case 'drained':
      return `${who(e)} exited (${how}) after draining`;
    case 'quit':
      return `${who(e)} exited (${how}) on quick stop`;
    case 'killed':
      return `${who(e)} killed on request (${how})${e.stopping ? '' : '; replacing it'}`;
    case 'boot-failed':
    case 'boot-timeout':
      // Said once, by the worker-boot-failed event that follows.
      return `${who(e)} exited (${how}) before it was ready`;
    case 'crashed':
      return `${who(e)} exited unexpectedly (${how})${e.stopping ? '' : '; replacing it'}`;
  }
}

function reloadLine(e: Extract<EventBody, { type: 'reload-end' }>): string {
  switch (e.outcome) {
    case 'done':
      return `reload done: ${e.newReady} new workers ready${e.count ? ` (${e.count})` : ''}, ${e.oldDrained} old drained in ${(e.seconds ?? 0).toFixed(1)}s`;
    case 'rolled-back': {
      const serving = e.serving ?? 0;
      const onNew = e.onNew ?? 0;
      // Honest about a mixed pool: new workers that did boot are kept, and they run the new code.
      const mix =
        onNew > 0 ? ` (${onNew} of them already run the new code)` : ', all on the old code';
      return `reload rolled back: the new code failed to boot: ${e.error}. ${plural(serving, 'worker')} keep${serving === 1 ? 's' : ''} serving${mix}.`;
    }
    case 'abandoned':
      return `reload abandoned: ${e.error}`;
    case 'refused':
      return `reload not done: ${e.error}; the running config and workers are kept`;
    case 'not-started':
      return `not reloading: ${e.error}`;
  }
}

/** The level an event is shown at. */
function levelOf(e: EventBody): EventLevel {
  switch (e.type) {
    case 'worker-timeout':
    case 'worker-boot-timeout':
    case 'worker-boot-failed':
    case 'give-up':
      return 'error';
    case 'worker-kill':
    case 'drain-overdue':
    case 'worker-warning':
    case 'worker-bad-message':
    case 'scale-refused':
    case 'config-note':
    case 'warning':
    case 'app-listens':
    case 'upgrade-refused':
    case 'backlog-capped':
      return 'warn';
    case 'upgrade-failed':
      return 'error';
    case 'reload-end':
      return e.ok ? 'info' : e.outcome === 'not-started' ? 'debug' : 'error';
    case 'signal-ignored':
      return e.warn ? 'warn' : 'debug';
    case 'reload-begin':
      return 'debug';
    case 'worker-exit':
      switch (e.cause) {
        case 'timeout':
          return 'error';
        case 'drained':
        case 'quit':
          return e.code === 0 ? 'info' : 'warn';
        case 'killed':
          return 'warn';
        case 'boot-failed':
        case 'boot-timeout':
          return 'debug';
        case 'crashed':
          return e.stopping ? 'info' : 'error';
      }
      return 'info';
    default:
      return 'info';
  }
}
