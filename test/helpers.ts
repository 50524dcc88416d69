// The tests' door to the shared harness (../harness/): gsup as a child process read through its
// typed events, waits with deadlines, /proc readers, HTTP and temp folders; plus the in-process
// pool options that only the tests use.

import type { ExecutionContext } from 'ava';
import type { SupervisorOptions } from '../dist/index.js';
import { FIXTURES, type Gsup } from '../harness/gsup.js';
import type { EventOf } from '../harness/log.js';
import { killQuietly } from '../harness/procfs.js';

export {
  BIN,
  dieWithTest,
  FIXTURES,
  type Gsup,
  type GsupOptions,
  gsup,
  gsupVerb,
  ROOT,
  type VerbResult,
} from '../harness/gsup.js';
export { get, getUnix, load, type Reply } from '../harness/http.js';
export type { EventOf, PoolEvent } from '../harness/log.js';
export { isAlive, killQuietly, someoneListensOn } from '../harness/procfs.js';
export { tempDir } from '../harness/tmp.js';
export { DEADLINE_MS, until } from '../harness/wait.js';

/** Options for an in-process Supervisor (the programmatic API) on an ephemeral port, over the fixtures. */
export function poolOptions(over: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return {
    app: 'slow.js',
    binds: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    workers: 2,
    maxWorkers: 8,
    backlog: 511,
    timeout: 10,
    bootTimeout: 20,
    gracefulTimeout: 10,
    maxRequests: 0,
    maxRequestsJitter: 0,
    accessLog: null,
    accessLogFormat: 'json',
    nodeArgs: [],
    cwd: FIXTURES,
    env: { ...process.env },
    ...over,
  };
}

/**
 * Resolves with the old supervisor's exit code (or signal) once it exits, during an upgrade of
 * gsup itself; the harness's `exited` also waits for the new one, which shares its pipes.
 */
export function oldExit(g: Gsup): Promise<number | string> {
  return new Promise((resolve) => {
    if (g.child.exitCode !== null || g.child.signalCode !== null) {
      resolve(g.child.exitCode ?? g.child.signalCode ?? -1);
      return;
    }
    g.child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
}

/**
 * The upgrade-start event, with the new supervisor (and its workers) killed at teardown: it is
 * not the harness's child.
 */
export async function upgradeStarted(
  t: ExecutionContext,
  g: Gsup,
): Promise<EventOf<'upgrade-start'>> {
  const started = await g.waitForEvent('upgrade-start');
  t.teardown(() => {
    killQuietly(started.newPid, 'SIGKILL');
    for (const pid of g.allPids()) killQuietly(pid, 'SIGKILL');
  });
  return started;
}

/** Upgrades gsup itself (USR2) and resolves with the new supervisor's pid once the old one exited. */
export async function upgradeUntilOldExits(t: ExecutionContext, g: Gsup): Promise<number> {
  const exited = oldExit(g);
  g.child.kill('SIGUSR2');
  const { newPid } = await upgradeStarted(t, g);
  await g.waitForEvent('upgrade-done');
  await exited;
  return newPid;
}
