// Runs in the supervisor: how a reload's options are put in force. Each option says how it
// applies; sockets are re-bound; the worker count follows its own rule. The pure parts are
// unit-tested (test/plan.test.ts).

import { formatBind, type Listener, openListener } from './listener.js';
import type { PoolOptions } from './options.js';

/** How a changed option takes effect. */
export type Applies =
  /** Read on every use: in force at once. */
  | 'live'
  /** Given to workers at spawn: the reload's new workers get it. */
  | 'new-workers'
  /** Sockets: new ones open before the reload, dropped ones close after it. */
  | 'rebind'
  /** The worker count: see `workerCount`. */
  | 'count';

/** Each option, and how a reload applies it. */
export const APPLIES: Record<keyof PoolOptions, Applies> = {
  app: 'new-workers',
  binds: 'rebind',
  workers: 'count',
  maxWorkers: 'live',
  backlog: 'new-workers',
  timeout: 'live',
  bootTimeout: 'live',
  gracefulTimeout: 'live',
  maxRequests: 'new-workers',
  maxRequestsJitter: 'new-workers',
  accessLog: 'new-workers',
  accessLogFormat: 'new-workers',
  adapt: 'live',
  balance: 'live',
  nodeArgs: 'new-workers',
  workerClass: 'new-workers',
  python: 'new-workers',
  readyPattern: 'new-workers',
  cwd: 'new-workers',
  env: 'new-workers',
  uid: 'new-workers',
  gid: 'new-workers',
};

/** Options whose change a reload reports as `key old → new` (binds and node flags apart). */
const SHOWN = [
  'app',
  'timeout',
  'bootTimeout',
  'gracefulTimeout',
  'maxRequests',
  'maxRequestsJitter',
  'maxWorkers',
  'backlog',
] as const satisfies ReadonlyArray<keyof PoolOptions>;

/** What changed between two sets of options, as the reload's log line lists it. */
export function changes(prev: PoolOptions, next: PoolOptions): string[] {
  const out: string[] = [];
  const have = prev.binds.map(formatBind).join(' ');
  const want = next.binds.map(formatBind).join(' ');
  if (have !== want) out.push(`bind ${have} → ${want}`);
  for (const key of SHOWN) {
    if (next[key] !== prev[key]) out.push(`${key} ${String(prev[key])} → ${String(next[key])}`);
  }
  if (next.nodeArgs.join(' ') !== prev.nodeArgs.join(' ')) out.push('node-arg');
  // Autoscaling and memory recycling: each changed setting by name.
  const [was, now] = [prev.adapt, next.adapt];
  for (const key of Object.keys({ ...was, ...now }) as Array<keyof NonNullable<typeof now>>) {
    if (was?.[key] !== now?.[key]) out.push(`${key} ${String(was?.[key])} → ${String(now?.[key])}`);
  }
  return out;
}

/**
 * The worker count after a reload: a count set at run time (+, TTIN, gsup scale) survives,
 * unless the configured count itself changed; never above max-workers. `why` says which, when
 * it needs saying.
 */
export function workerCount(
  prev: PoolOptions,
  next: PoolOptions,
  current: number,
): { to: number; why: string | null } {
  let to = current;
  let why: string | null = null;
  if (next.workers !== prev.workers) {
    to = next.workers;
    why = `workers changed in the config from ${prev.workers} to ${next.workers}`;
  } else if (current !== next.workers) {
    why = `keeping the ${current} set at run time; the config says ${next.workers}`;
  }
  if (to > next.maxWorkers) {
    to = next.maxWorkers;
    why = `capped at max-workers ${next.maxWorkers}`;
  }
  return { to, why };
}

/**
 * Opens the sockets `next` names that are not open yet and keeps the rest; throws (closing what
 * it opened) if one cannot be bound. `retired` are the ones to close once the reload ends: old
 * workers keep their own copies until they drain.
 */
export async function rebind(
  sockets: Listener[],
  next: PoolOptions,
): Promise<{ sockets: Listener[]; retired: Listener[]; added: Listener[] }> {
  const want = next.binds.map(formatBind);
  const have = sockets.map((l) => formatBind(l.spec));
  if (want.join(' ') === have.join(' ')) return { sockets, retired: [], added: [] };
  const opened: Listener[] = [];
  try {
    for (const spec of next.binds) {
      const existing = sockets.find((l) => formatBind(l.spec) === formatBind(spec));
      opened.push(existing ?? (await openListener(spec)));
    }
  } catch (err) {
    for (const l of opened) if (!sockets.includes(l)) l.close();
    throw err;
  }
  return {
    sockets: opened,
    retired: sockets.filter((l) => !opened.includes(l)),
    added: opened.filter((l) => !sockets.includes(l)),
  };
}
