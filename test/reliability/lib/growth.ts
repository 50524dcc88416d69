// Does the supervisor leak? Its fd count and RSS before and after a fault run. The fd count must
// come back to where it was (same pool size, same clients); RSS may wobble (GC, JIT, malloc
// arenas) but must not grow by more than a tolerance that a real per-worker leak would exceed.

import type { ExecutionContext } from 'ava';
import { fdCount, liveRssKb as rssKb } from '../../../harness/procfs.js';
import { until } from '../../helpers.js';
import { type Pool, status } from './pool.js';

export interface Usage {
  fds: number;
  rssKb: number;
}

export function usage(pid: number): Usage {
  return { fds: fdCount(pid), rssKb: rssKb(pid) };
}

/**
 * The baseline to compare against: taken once the supervisor has sampled every worker's CPU,
 * since its sampler (pidusage) keeps one /proc/PID/stat fd open per worker from then on.
 */
export async function baseline(p: Pool): Promise<Usage> {
  await until('the supervisor has sampled every worker', async () => {
    const snap = await status(p);
    return snap.ready === snap.target && snap.workers.every((w) => w.cpu !== null);
  });
  return usage(p.pid);
}

/**
 * Extra fds allowed at the end: a `gsup status` connection still closing. (The sampler also keeps
 * a dead worker's /proc fd for a few seconds; that is waited out, not allowed for.)
 */
const FD_SLACK = 2;
/** RSS growth allowed: the larger of this many MB and this share of the start. */
const RSS_SLACK_MB = 20;
const RSS_SLACK_SHARE = 0.25;

/**
 * Checks that the supervisor `pid` did not grow since `before`. fds may lag behind (exited
 * workers' pipes close when reaped), so they are waited for; RSS is compared once.
 */
export async function notGrown(t: ExecutionContext, pid: number, before: Usage): Promise<Usage> {
  const limit = before.fds + FD_SLACK;
  await until(`the supervisor's fd count is back to ≤ ${limit} (was ${before.fds})`, () => {
    return fdCount(pid) <= limit;
  }).catch((err: Error) => {
    t.fail(`${err.message}; now ${fdCount(pid)}`);
  });
  const after = usage(pid);
  const rssLimit = before.rssKb + Math.max(RSS_SLACK_MB * 1024, before.rssKb * RSS_SLACK_SHARE);
  t.log(
    `supervisor fds ${before.fds} → ${after.fds}, RSS ${(before.rssKb / 1024).toFixed(1)} → ${(after.rssKb / 1024).toFixed(1)} MB`,
  );
  t.true(
    after.rssKb <= rssLimit,
    `supervisor RSS grew from ${before.rssKb} kB to ${after.rssKb} kB (limit ${Math.round(rssLimit)} kB)`,
  );
  return after;
}
