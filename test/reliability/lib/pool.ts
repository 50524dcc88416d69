// A running gsup for reliability tests, and what a test asks of it: its snapshot over the
// control socket (`gsup status --json`), and "is the pool back to N and serving?".

import type { ExecutionContext } from 'ava';
import { type Gsup, get, gsup, gsupVerb, isAlive, until } from '../../helpers.js';

export interface Pool extends Gsup {
  base: string;
  port: number;
  env: Record<string, string>;
}

/** `gsup start APP -w N` on an ephemeral port, headless; resolves once all N are ready. */
export async function startPool(
  t: ExecutionContext,
  app: string,
  workers: number,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<Pool> {
  const args = ['start', app, '-w', String(workers), '-b', '127.0.0.1:0', '--no-tui', ...extra];
  const g = gsup(t, args, { env });
  const base = await g.url();
  await g.waitForEvent('pool-ready');
  return Object.assign(g, {
    base,
    port: Number(new URL(base).port),
    env: { XDG_RUNTIME_DIR: g.runtimeDir },
  });
}

/** The subset of the snapshot these tests read. */
export interface Snapshot {
  pid: number;
  state: string;
  target: number;
  live: number;
  ready: number;
  totals: { requests: number; reloads: number; restarts: number };
  workers: Array<{ pid: number; state: string; requests: number; cpu: number | null }>;
}

/** `gsup status --json`, parsed; fails loudly if the verb does. */
export async function status(p: Pool): Promise<Snapshot> {
  const r = await gsupVerb(['status', '--json'], p.env);
  if (r.code !== 0) throw new Error(`gsup status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Snapshot;
}

/**
 * Waits until the pool is exactly `n` ready workers, no others alive, per both the log and the
 * snapshot, and then that it answers a request. This is "nothing lost" after a fault.
 */
export async function backToN(p: Pool, n: number): Promise<Snapshot> {
  let snap: Snapshot | null = null;
  await until(`the pool is back to ${n} ready workers`, async () => {
    if (p.readyPids().length !== n) return false;
    snap = await status(p);
    return snap.ready === n && snap.live === n && snap.target === n;
  });
  const r = await get(p.base);
  if (r.status !== 200) throw new Error(`after recovery the pool answered ${r.status}`);
  if (!isAlive(p.pid)) throw new Error('the supervisor died');
  return snap as unknown as Snapshot;
}

/** gsup's own lines: its log, without the workers' output. */
export function ownLines(g: Gsup): string[] {
  return g.ownLines;
}

/** What gsup prints when it breaks itself (src/cli/start.ts), whatever a test did to it. */
export const INTERNAL_ERROR = /internal error|uncaught|unhandled/i;
