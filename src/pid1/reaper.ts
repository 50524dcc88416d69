// Runs in the supervisor when it is PID 1 (a container with no init): the kernel reparents every
// orphan in the PID namespace to gsup, and only gsup can reap it. libuv reaps only the children
// it spawned (waitpid on each of their pids), so an orphan that exits would stay a zombie. On
// SIGCHLD (and every few seconds, in case one was missed) this finds gsup's zombie children in
// /proc whose pid is not a child libuv is waiting for, and reaps exactly those with
// waitpid(pid, WNOHANG) from the native helper. Never waitpid(-1): that would take a worker's
// exit status from libuv, and the worker's exit would never be reported. An orphan's exit is
// never seen by the pool at all (Gunicorn #3220: an orphan exiting with code 3 was taken for a
// worker's boot error and shut the server down).

import { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadNative, NATIVE_FIX } from '../native/native.js';

/** A backstop sweep, in case a SIGCHLD arrived while a sweep ran. */
const SWEEP_EVERY_MS = 5000;

export interface Reaper {
  /** How many orphans it has reaped. */
  readonly reaped: number;
  stop(): void;
}

/** The state and parent of a process, from /proc/PID/stat; null when it is gone. */
function stateAndParent(pid: string): { state: string; ppid: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces and ')': split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]) };
}

/** Pids of this process's children that are zombies. */
export function zombieChildren(self = process.pid): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = stateAndParent(name);
    if (s && s.ppid === self && s.state === 'Z') found.push(Number(name));
  }
  return found;
}

/**
 * Every process started through Node's child_process (workers, the listen helper, anything a
 * hook spawns) passes through ChildProcess.prototype.spawn: recording its pid there tells libuv's
 * children apart from orphans. A pid is libuv's until libuv has reaped it (its exit is known).
 */
function trackSpawns(): { owned: (pid: number) => boolean; restore: () => void } {
  const children = new Map<number, ChildProcess>();
  const proto = ChildProcess.prototype as unknown as { spawn: (...args: unknown[]) => unknown };
  const original = proto.spawn;
  proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
    const result = original.apply(this, args);
    if (this.pid !== undefined) children.set(this.pid, this);
    return result;
  };
  return {
    owned: (pid) => {
      const child = children.get(pid);
      if (!child) return false;
      if (child.exitCode === null && child.signalCode === null) return true;
      children.delete(pid);
      return false;
    },
    restore: () => {
      proto.spawn = original;
    },
  };
}

/**
 * Starts reaping orphans if this process is PID 1; returns null otherwise, or a one-line problem
 * when it is PID 1 but cannot reap (no native helper, a /proc of another PID namespace).
 */
export function reapOrphansAsInit(): Reaper | string | null {
  if (process.pid !== 1) return null;
  const { native, error } = loadNative();
  if (!native) {
    return `gsup is PID 1 and cannot reap orphaned processes (they will stay zombies): ${NATIVE_FIX} (${error}); or run an init in front of gsup (docker run --init, tini)`;
  }
  if (
    stateAndParent('self') === null ||
    readFileSync('/proc/self/stat', 'utf8').split(' ')[0] !== '1'
  ) {
    return "gsup is PID 1 but /proc belongs to another PID namespace, so orphans cannot be found; mount this namespace's /proc, or run an init in front of gsup (docker run --init, tini)";
  }
  const spawns = trackSpawns();
  let reaped = 0;
  const sweep = () => {
    for (const pid of zombieChildren()) {
      if (spawns.owned(pid)) continue;
      if (native.reap(pid) === pid) reaped++;
    }
  };
  process.on('SIGCHLD', sweep);
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  timer.unref();
  sweep();
  return {
    get reaped() {
      return reaped;
    },
    stop() {
      clearInterval(timer);
      process.off('SIGCHLD', sweep);
      spawns.restore();
    },
  };
}
