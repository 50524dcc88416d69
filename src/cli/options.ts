// Turns a resolved configuration into the supervisor's options: sockets (or systemd's), the
// workers' user, group and environment. Used at start and again on every reload.

import { availableParallelism } from 'node:os';
import { compileAccessFormat } from '../access-format.js';
import type { Resolved } from '../config/load.js';
import { groupId, userIds } from '../config/users.js';
import { parseMetricsAddress } from '../metrics/address.js';
import { type BindSpec, formatBind, parseBind } from '../supervisor/listener.js';
import type { WorkerClass } from '../supervisor/spawn.js';
import type { SupervisorOptions } from '../supervisor/supervisor.js';

/** The systemd socket-activation fds, when this process was started with them. */
export function systemdBinds(env: Record<string, string | undefined>): BindSpec[] | null {
  if (!env.LISTEN_FDS || Number(env.LISTEN_PID) !== process.pid) return null;
  const n = Number(env.LISTEN_FDS);
  if (!Number.isInteger(n) || n < 1) return null;
  // systemd passes its sockets from fd 3 on (SD_LISTEN_FDS_START).
  return Array.from({ length: n }, (_, i) => ({ kind: 'fd' as const, fd: 3 + i }));
}

/** The supervisor options for `resolved`, or a one-line error naming the setting. */
export function supervisorOptions(
  resolved: Resolved,
  app: string,
  env: Record<string, string | undefined>,
  cwd: string,
): Omit<SupervisorOptions, 'reloadConfig'> | string {
  const { config } = resolved;
  let binds = systemdBinds(env);
  if (!binds) {
    binds = [];
    for (const b of config.bind) {
      const parsed = parseBind(b);
      if (typeof parsed === 'string') return parsed;
      binds.push(parsed);
    }
  }
  const seen = new Set<string>();
  for (const b of binds) {
    const key = formatBind(b);
    if (seen.has(key)) return `bind: ${key} is given twice`;
    seen.add(key);
  }
  if (config.metrics) {
    const metrics = parseMetricsAddress(config.metrics, binds);
    if (typeof metrics === 'string') return metrics;
  }
  let uid: number | undefined;
  let gid: number | undefined;
  if (config.user) {
    const ids = userIds(config.user);
    if (!ids)
      return `user: no such user ${JSON.stringify(config.user)} on this machine (see /etc/passwd)`;
    uid = ids.uid;
    gid = ids.gid ?? undefined;
  }
  if (config.group) {
    const g = groupId(config.group);
    if (g === null)
      return `group: no such group ${JSON.stringify(config.group)} on this machine (see /etc/group)`;
    gid = g;
  }
  const asOther =
    (uid !== undefined && uid !== process.getuid?.()) ||
    (gid !== undefined && gid !== process.getgid?.());
  if (asOther && process.getuid?.() !== 0) {
    return `${config.user ? 'user' : 'group'}: running the workers as ${config.user ?? config.group} needs gsup to start as root`;
  }
  const format = compileAccessFormat(config.accessLogFormat);
  if (typeof format === 'string') return format;
  if (config.accessLog && config.workerClass !== 'node') {
    return `access-log: only node workers write an access log today, and these are ${config.workerClass} workers; drop --access-log, or log at the proxy in front (nginx's access_log)`;
  }
  const workerEnv: Record<string, string | undefined> = { ...env };
  for (const pair of config.env) {
    const eq = pair.indexOf('=');
    workerEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    app,
    binds,
    workers: config.workers,
    maxWorkers: config.maxWorkers,
    backlog: config.backlog,
    timeout: config.timeout,
    bootTimeout: config.bootTimeout,
    gracefulTimeout: config.gracefulTimeout,
    maxRequests: config.maxRequests,
    maxRequestsJitter: config.maxRequestsJitter,
    accessLog: config.accessLog,
    accessLogFormat: config.accessLogFormat,
    adapt: {
      autoscale: config.autoscale,
      minWorkers: config.minWorkers,
      // An explicit --max-workers bounds autoscaling; its default (64) would let a busy CPU-bound
      // pool grow far past the machine's cores, so the autoscaler's own default is 2 × CPUs.
      maxWorkers:
        resolved.sources.maxWorkers === 'default'
          ? Math.max(2 * availableParallelism(), config.workers, config.minWorkers)
          : config.maxWorkers,
      scaleUpAfter: config.scaleUpAfter,
      scaleDownAfter: config.scaleDownAfter,
      scaleCooldown: config.scaleCooldown,
      maxWorkerMemory: config.maxWorkerMemory,
      minWorkerAge: config.minWorkerAge,
    },
    balance: config.balance,
    nodeArgs: config.nodeArg,
    workerClass: config.workerClass as WorkerClass,
    python: config.python,
    readyPattern: config.readyPattern,
    cwd,
    env: workerEnv,
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
  };
}
