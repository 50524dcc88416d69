// Chaos: SIGKILL a random ready worker every `everyMs` under keep-alive load. The only requests
// allowed to fail are those on the killed worker's connections (HTTP/1.1 without pipelining has
// at most one request in flight per connection); the pool must return to N; the supervisor
// must not leak fds or memory.

import { performance } from 'node:perf_hooks';
import type { ExecutionContext } from 'ava';
import { connectionsByPid } from '../../../harness/procfs.js';
import { isAlive, killQuietly, until } from '../../helpers.js';
import { baseline, notGrown } from '../lib/growth.js';
import { trackedLoad } from '../lib/load.js';
import { backToN, INTERNAL_ERROR, ownLines, startPool } from '../lib/pool.js';

export interface ChaosOptions {
  workers: number;
  seconds: number;
  everyMs: number;
  concurrency: number;
}

/** Generous: the kills are paced by `everyMs`, but a loaded machine may stretch each turn. */
const CHAOS_DEADLINE_MS = 120_000;

interface Kill {
  at: number;
  pid: number;
  /** Connections the victim held just before the kill: the most requests it can take down. */
  conns: number;
  failed: number;
}

export async function chaos(t: ExecutionContext, o: ChaosOptions): Promise<void> {
  const p = await startPool(t, 'misbehaves-on-request.js', o.workers);
  const traffic = trackedLoad(p.base, o.concurrency);
  await until('the load is flowing', () => traffic.ok() > 200);
  const before = await baseline(p);

  const okAtStart = traffic.ok();
  const kills: Kill[] = [];
  // Counted, not timed: on a busy machine the loop runs slower, but the chaos is the same.
  const wanted = Math.floor((o.seconds * 1000) / o.everyMs);
  const started = performance.now();
  const deadline = started + CHAOS_DEADLINE_MS;
  while (kills.length < wanted) {
    if (performance.now() > deadline) {
      t.fail(`only ${kills.length} of ${wanted} kills within ${CHAOS_DEADLINE_MS / 1000}s`);
      break;
    }
    const ready = p.readyPids().filter(isAlive);
    const victim = ready[Math.floor(Math.random() * ready.length)];
    if (victim !== undefined) {
      const conns = connectionsByPid([victim], p.port).get(victim) ?? 0;
      kills.push({ at: performance.now(), pid: victim, conns, failed: 0 });
      killQuietly(victim, 'SIGKILL');
    }
    // The chaos cadence itself, not a wait for anything.
    await new Promise((r) => setTimeout(r, o.everyMs));
  }
  const okBeforeStop = traffic.ok();
  // Let the last replacement settle under load before stopping it.
  await backToN(p, o.workers);
  const result = await traffic.stop();

  // Each failure belongs to the last kill before it.
  const early = result.failures.filter((f) => f.at < (kills[0]?.at ?? 0));
  for (const f of result.failures) {
    const k = kills.findLast((x) => x.at <= f.at);
    if (k) k.failed++;
  }
  const held = kills.reduce((s, k) => s + k.conns, 0);
  t.log(
    `${kills.length} kills in ${((performance.now() - started) / 1000).toFixed(1)}s, ${result.ok} requests ok, ${result.failed} failed; ` +
      `failed per kill: ${kills.map((k) => k.failed).join(' ')}; ` +
      `victim connections: ${kills.map((k) => k.conns).join(' ')}`,
  );
  t.deepEqual(early, [], 'requests failed before any kill');
  t.true(
    result.failed <= held,
    `${result.failed} requests failed, but the killed workers held only ${held} connections`,
  );
  for (const k of kills) {
    t.true(k.failed <= o.concurrency, `kill of ${k.pid}: ${k.failed} failures`);
  }
  // Failures are dropped connections, never an HTTP error from a worker.
  t.deepEqual(
    result.failures.filter((f) => /^status /.test(f.error)),
    [],
  );
  t.true(okBeforeStop > okAtStart, 'no request was answered during the chaos');

  // Every kill was seen and replaced; the pool is back to N; nothing leaked.
  const replaced = new Set(
    p.events
      .filter(
        (e) =>
          e.type === 'worker-exit' &&
          e.cause === 'crashed' &&
          e.signal === 'SIGKILL' &&
          !e.stopping,
      )
      .map((e) => e.pid),
  );
  t.deepEqual(
    kills.map((k) => k.pid).filter((pid) => !replaced.has(pid)),
    [],
    'kills the supervisor did not report',
  );
  await backToN(p, o.workers);
  for (const k of kills) t.false(isAlive(k.pid), `killed worker ${k.pid} is still alive`);
  await notGrown(t, p.pid, before);
  t.false(
    ownLines(p).some((l) => INTERNAL_ERROR.test(l)),
    p.stderr(),
  );
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
}
