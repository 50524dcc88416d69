// Runs in the supervisor: gsup under systemd. A subscriber to the pool's typed event stream that
// speaks sd_notify(3): READY=1 (with MAINPID) once the first full set of workers is ready;
// RELOADING=1 with MONOTONIC_USEC when a reload pass starts and READY=1 when it ends (systemd's
// Type=notify-reload, which sends SIGHUP to reload); STOPPING=1 on stop; a STATUS= line kept
// current; and WATCHDOG=1 every WATCHDOG_USEC/2 while gsup's own loop is healthy. Another part
// of gsup (a self-upgrade announcing its new pid) reaches systemd through `notify`, in one line:
//   sup.on('event', (e) => e.type === 'upgrade-done' && systemd.notify({ MAINPID: e.pid }));

import type { PoolEvent } from '../events.js';
import type { PoolSnapshot } from '../supervisor/snapshot.js';
import { monotonicUsec, type Notifier, type NotifyFields, notifySocket } from './notify.js';

/** What the subscriber reads of the supervisor. */
export interface SystemdSource {
  on(event: 'event', listener: (e: PoolEvent) => void): unknown;
  off(event: 'event', listener: (e: PoolEvent) => void): unknown;
  snapshot(): PoolSnapshot;
  /** Milliseconds since the pool's periodic step last ran; null while it is not running. */
  readonly tickAgeMs: number | null;
}

/** The pool's step runs every 100 ms; older than this and gsup is not healthy. */
export const TICK_HEALTHY_MS = 2000;
/** How often the STATUS= line is refreshed (sent only when its text changed). */
const STATUS_EVERY_MS = 2000;

export interface Systemd {
  /** Sends any fields to systemd (e.g. `{ MAINPID: pid }`); false when it could not. */
  notify(fields: NotifyFields): boolean;
  /** The watchdog's interval in ms, or null when the watchdog is off. */
  readonly watchdogMs: number | null;
  /** Stops the timers and the subscription. */
  close(): void;
}

/**
 * The watchdog's ping interval (half of WATCHDOG_USEC), or null when it is off or meant for
 * another process (WATCHDOG_PID names a pid that is not ours), or a reason it is unusable.
 */
export function watchdogInterval(
  env: NodeJS.ProcessEnv,
  pid: number,
): { ms: number } | { error: string } | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec) return null;
  if (env.WATCHDOG_PID && env.WATCHDOG_PID !== String(pid)) return null;
  if (!/^\d+$/.test(usec) || Number(usec) === 0) {
    return {
      error: `WATCHDOG_USEC=${usec} is not a positive number of microseconds; no watchdog pings`,
    };
  }
  return { ms: Math.max(1, Math.floor(Number(usec) / 2000)) };
}

/** The STATUS= text: "4/4 workers ready, 1234 req/s", and what the pool is doing. */
export function statusLine(s: PoolSnapshot): string {
  let line = `${s.ready}/${s.target} workers ready, ${Math.round(s.totals.rps)} req/s`;
  if (s.state === 'starting') line = `starting: ${line}`;
  if (s.reload) line += `; reloading: ${s.reload.newReady} new ready, ${s.reload.oldLeft} old left`;
  if (s.state === 'stopping') line += '; stopping';
  return line;
}

/** Healthy: the event loop turns (this runs at all) and the pool's step ran recently. */
export function healthy(tickAgeMs: number | null): boolean {
  return tickAgeMs === null || tickAgeMs < TICK_HEALTHY_MS;
}

/** Subscribes a notifier to the pool's events; the caller closes it when gsup is done. */
export function attachSystemd(
  source: SystemdSource,
  notifier: Notifier,
  opts: { watchdogMs: number | null; pid?: number },
): Systemd {
  const pid = opts.pid ?? process.pid;
  const notify = (fields: NotifyFields) => notifier.notify(fields);
  let ready = false;
  let lastStatus = '';
  const status = (): string => {
    lastStatus = statusLine(source.snapshot());
    return lastStatus;
  };
  const refresh = () => {
    const line = statusLine(source.snapshot());
    if (line !== lastStatus) notify({ STATUS: line });
    lastStatus = line;
  };
  const becomeReady = () => {
    ready = true;
    notify({ READY: 1, MAINPID: pid, STATUS: status() });
  };
  const onEvent = (e: PoolEvent) => {
    switch (e.type) {
      case 'pool-ready':
        if (!ready) becomeReady();
        return;
      case 'reload-begin':
        // Before the first READY=1 systemd does not reload us: nothing to say yet.
        if (ready) {
          lastStatus = 'reloading: re-reading the configuration';
          notify({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(), STATUS: lastStatus });
        }
        return;
      case 'reload-end':
        if (ready) {
          const line = status();
          notify({ READY: 1, STATUS: e.ok ? line : `${line}; last reload: ${e.message}` });
        } else if (e.ok) becomeReady();
        return;
      case 'stop-begin':
        lastStatus = e.quick ? 'stopping: quick stop' : 'stopping: draining workers';
        notify({ STOPPING: 1, STATUS: lastStatus });
        return;
      case 'give-up':
        lastStatus = e.message;
        notify({ STATUS: lastStatus });
        return;
      case 'stopped':
        close();
        return;
      case 'worker-ready':
      case 'worker-exit':
      case 'scale': {
        const s = source.snapshot();
        // The worker that completes the first full set is followed at once by pool-ready.
        if (!ready && e.type === 'worker-ready' && s.ready >= s.target) return;
        if (s.state !== 'stopping') refresh();
        return;
      }
      default:
        return;
    }
  };
  source.on('event', onEvent);
  const timers: NodeJS.Timeout[] = [];
  timers.push(
    setInterval(() => {
      const state = source.snapshot().state;
      if (state === 'running' || state === 'reloading') refresh();
    }, STATUS_EVERY_MS),
  );
  if (opts.watchdogMs !== null) {
    const ping = () => {
      if (healthy(source.tickAgeMs)) notify({ WATCHDOG: 1 });
    };
    timers.push(setInterval(ping, opts.watchdogMs));
    ping();
  }
  // The pings must not keep a finished gsup alive.
  for (const t of timers) t.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const t of timers) clearInterval(t);
    source.off('event', onEvent);
  };
  return { notify, watchdogMs: opts.watchdogMs, close };
}

/**
 * gsup under systemd, from its environment: a subscriber when NOTIFY_SOCKET is set and usable,
 * else null. Each problem (a bad NOTIFY_SOCKET or WATCHDOG_USEC, no native helper) is one warning.
 */
export function systemdFromEnv(
  source: SystemdSource,
  env: NodeJS.ProcessEnv,
  warn: (text: string) => void,
): Systemd | null {
  const { notifier, problem } = notifySocket(env, warn);
  if (problem) warn(problem);
  if (!notifier) return null;
  const watchdog = watchdogInterval(env, process.pid);
  if (watchdog && 'error' in watchdog) warn(watchdog.error);
  return attachSystemd(source, notifier, {
    watchdogMs: watchdog && 'ms' in watchdog ? watchdog.ms : null,
  });
}
