// Runs in the supervisor: what the pool is told (its options, replaced whole on reload) and
// what it uses from outside (spawning, usage readings), replaceable in tests.

import type { AdaptOptions } from './adapt.js';
import type { BindSpec } from './listener.js';
import type { Spawner, WorkerClass } from './spawn.js';
import type { Inheritance, ReexecProvider } from './upgrade.js';
import type { UsageReader } from './usage.js';

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
  /** Where workers write the access log: a path, `-` for gsup's stdout, or null for none. */
  accessLog?: string | null;
  /** Gunicorn's access-log atoms, or `json` (default: the Common Log Format). */
  accessLogFormat?: string;
  /** Autoscaling and memory recycling (./adapt.ts); off when absent. */
  adapt?: AdaptOptions;
  /** What the workers run (docs/worker-protocol.md): node (default), wsgi or exec. */
  workerClass?: WorkerClass;
  /** The interpreter of wsgi workers (default python3). */
  python?: string;
  /** exec workers: the output line (a regular expression) that says the program is ready. */
  readyPattern?: string | null;
  /** Keep-alive balance: a worker above its share of connections closes some (default on). */
  balance?: boolean;
  /** Extra flags for the workers' node, e.g. `--max-old-space-size=512`. */
  nodeArgs: string[];
  cwd: string;
  /** The workers' environment (gsup adds its own variables on top). */
  env: Record<string, string | undefined>;
  /** Run the workers as this user and group id (the supervisor keeps its own, e.g. root for port 80). */
  uid?: number;
  gid?: number;
  /**
   * Called at the start of every reload, from any door: the config file re-read, as whole
   * options, or a one-line error (the running config is kept and the reload is not done).
   */
  reloadConfig?: () => Promise<ReloadedConfig | string>;
}

/** Everything but the reload callback: what a reload replaces. */
export type PoolOptions = Omit<SupervisorOptions, 'reloadConfig'>;

/** The options a reload brings. */
export interface ReloadedConfig {
  options: PoolOptions;
  /** Called once the new options are in force (so the caller swaps its hooks only then). */
  accept: () => void;
  /** Lines to log, e.g. a setting that takes effect only at the next start. */
  notes: string[];
}

/** What the arbiter uses from outside, replaceable in tests. */
export interface SupervisorDeps {
  spawn: Spawner;
  usage: UsageReader;
  /** How to start a new gsup for an upgrade, or why it cannot be; absent: no upgrade (the API). */
  reexec?: ReexecProvider;
  /** What an upgrade's old supervisor handed this one: sockets to adopt, the worker count. */
  inherited?: Inheritance;
}

/** Heartbeat period: a quarter of the timeout, at most one second. */
export function heartbeatMs(timeoutSeconds: number): number {
  return timeoutSeconds > 0 ? Math.max(50, Math.min(1000, (timeoutSeconds * 1000) / 4)) : 1000;
}
