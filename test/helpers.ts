// The tests' door to the shared harness (../harness/): gsup as a child process read through its
// typed events, waits with deadlines, /proc readers, HTTP and temp folders; plus the in-process
// pool options that only the tests use.

import type { ExecutionContext } from 'ava';
import type { SupervisorOptions } from '../dist/index.js';
import { FIXTURES, type Gsup } from '../harness/gsup.js';
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
 * Upgrades gsup itself (USR2) and resolves with the new supervisor's pid once the old one has
 * exited (the harness's `exited` would also wait for the new one, which shares its pipes). The new
 * supervisor is not the harness's child: it and every worker are killed at the test's teardown.
 */
export async function upgradeUntilOldExits(t: ExecutionContext, g: Gsup): Promise<number> {
  const exited = new Promise<void>((resolve) => {
    if (g.child.exitCode !== null || g.child.signalCode !== null) resolve();
    else g.child.once('exit', () => resolve());
  });
  g.child.kill('SIGUSR2');
  const { newPid } = await g.waitForEvent('upgrade-start');
  t.teardown(() => {
    killQuietly(newPid, 'SIGKILL');
    for (const pid of g.allPids()) killQuietly(pid, 'SIGKILL');
  });
  await g.waitForEvent('upgrade-done');
  await exited;
  return newPid;
}
