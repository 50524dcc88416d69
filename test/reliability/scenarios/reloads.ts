// Reloads under keep-alive load: every one must fail zero requests, replace every worker, and
// leave the supervisor's fds and RSS where they were. Reloads asked for while one runs coalesce.

import type { ExecutionContext } from 'ava';
import { gsupVerb, isAlive, until } from '../../helpers.js';
import { baseline, notGrown } from '../lib/growth.js';
import { trackedLoad } from '../lib/load.js';
import { backToN, INTERNAL_ERROR, ownLines, startPool, status } from '../lib/pool.js';

const DONE = /reload done/;

export async function reloadsUnderLoad(
  t: ExecutionContext,
  o: { count: number; workers: number; concurrency: number },
): Promise<void> {
  const p = await startPool(t, 't7-app.js', o.workers);
  const traffic = trackedLoad(p.base, o.concurrency);
  await until('the load is flowing', () => traffic.ok() > 200);
  const before = await baseline(p);
  const seen = new Set(p.readyPids());
  for (let i = 1; i <= o.count; i++) {
    const from = p.lines.length;
    p.child.kill('SIGHUP');
    await p.waitFor(/reload (done|rolled back|abandoned)/, undefined, from);
    const outcome = p.lines.slice(from).find((l) => /reload (done|rolled back|abandoned)/.test(l));
    if (!DONE.test(outcome ?? '')) t.fail(`reload ${i}: ${outcome}`);
    // Every worker is new, and the load kept flowing through it.
    const ready = p.readyPids();
    const reused = ready.filter((pid) => seen.has(pid));
    if (reused.length > 0) t.fail(`reload ${i} kept workers ${reused.join(', ')}`);
    for (const pid of ready) seen.add(pid);
    if (traffic.failures.length > 0) break;
  }
  const atEnd = traffic.ok();
  await until('requests flow after the last reload', () => traffic.ok() > atEnd + 100);
  const result = await traffic.stop();
  t.log(`${o.count} reloads, ${result.ok} requests ok, ${result.failed} failed`);
  t.deepEqual(
    result.failures.slice(0, 5).map((f) => f.error),
    [],
  );
  t.is(result.failed, 0);
  const snap = await backToN(p, o.workers);
  t.is(snap.totals.reloads, o.count);
  // Every replaced worker is gone, not lingering.
  const ready = new Set(p.readyPids());
  for (const pid of seen) if (!ready.has(pid)) await until(`old ${pid} exits`, () => !isAlive(pid));
  await notGrown(t, p.pid, before);
  t.false(
    ownLines(p).some((l) => INTERNAL_ERROR.test(l)),
    p.stderr(),
  );
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
}

/**
 * `burst` reload requests (half signals, half `gsup reload`) sent while a slow reload runs are
 * coalesced into one more run; every `gsup reload` waits for that run and reports it done.
 */
export async function coalescedReloads(t: ExecutionContext, burst: number): Promise<void> {
  const p = await startPool(t, 't7-slow-boot.js', 2, [], { T7_BOOT_MS: '1500' });
  const from = p.lines.length;
  p.child.kill('SIGHUP');
  await p.waitFor(/reload started/, undefined, from);
  const verbs: Array<ReturnType<typeof gsupVerb>> = [];
  for (let i = 0; i < burst; i++) {
    if (i % 2) p.child.kill('SIGHUP');
    else verbs.push(gsupVerb(['reload'], p.env));
  }
  const results = await Promise.all(verbs);
  for (const r of results) {
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, DONE);
  }
  await until(
    'both runs are done',
    () => p.lines.slice(from).filter((l) => DONE.test(l)).length === 2,
  );
  // Both runs logged their end, so every start is in the log too.
  const started = p.lines.slice(from).filter((l) => /reload started/.test(l)).length;
  t.is(started, 2, p.lines.slice(from).join('\n'));
  t.is(p.lines.slice(from).filter((l) => /reload requested while one runs/.test(l)).length, 1);
  t.is((await status(p)).totals.reloads, 2);
  await backToN(p, 2);
}
