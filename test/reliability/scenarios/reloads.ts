// Reloads under keep-alive load: every one must fail zero requests, replace every worker, and
// leave the supervisor's fds and RSS where they were. Reloads asked for while one runs coalesce.

import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { ExecutionContext } from 'ava';
import { isAlive, tempDir, until } from '../../helpers.js';
import { controlPath } from '../lib/control.js';
import { baseline, notGrown } from '../lib/growth.js';
import { trackedLoad } from '../lib/load.js';
import { backToN, INTERNAL_ERROR, ownLines, startPool, status } from '../lib/pool.js';

const DONE = /reload done/;

export async function reloadsUnderLoad(
  t: ExecutionContext,
  o: { count: number; workers: number; concurrency: number },
): Promise<void> {
  const p = await startPool(t, 'misbehaves-on-request.js', o.workers);
  const traffic = trackedLoad(p.base, o.concurrency);
  await until('the load is flowing', () => traffic.ok() > 200);
  const before = await baseline(p);
  const seen = new Set(p.readyPids());
  for (let i = 1; i <= o.count; i++) {
    const from = p.events.length;
    p.child.kill('SIGHUP');
    const end = await p.waitForEvent(
      'reload-end',
      (e) => e.outcome !== 'not-started',
      undefined,
      from,
    );
    if (end.outcome !== 'done') t.fail(`reload ${i}: ${end.message}`);
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

interface Reply {
  id?: number;
  ok: boolean;
  result?: { message?: string };
  error?: string;
}

/**
 * A reload request followed by a status request on one control connection. The status answer
 * comes at once and proves the reload line before it was handled (lines on a connection are
 * handled in order); the reload answer comes when the run it joined is over.
 */
function reloadThenStatus(path: string): { registered: Promise<void>; answer: Promise<Reply> } {
  const conn = net.connect(path, () =>
    conn.write('{"cmd":"reload","id":1}\n{"cmd":"status","id":2}\n'),
  );
  let buffer = '';
  let onStatus: () => void = () => undefined;
  let onReload: (r: Reply) => void = () => undefined;
  const registered = new Promise<void>((resolve) => {
    onStatus = resolve;
  });
  const answer = new Promise<Reply>((resolve, reject) => {
    onReload = resolve;
    conn.on('error', reject);
    conn.on('close', () =>
      reject(new Error('the control connection closed without a reload answer')),
    );
  });
  conn.setEncoding('utf8');
  conn.on('data', (d: string) => {
    buffer += d;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const reply = JSON.parse(buffer.slice(0, nl)) as Reply;
      buffer = buffer.slice(nl + 1);
      if (reply.id === 2) onStatus();
      if (reply.id === 1) {
        onReload(reply);
        conn.destroy();
      }
    }
  });
  return { registered, answer };
}

/**
 * Reload requests made while a reload runs are coalesced into one more run, and every request
 * is answered by it. The run's new workers are held at a gate (a file) until every request is
 * known to have reached the supervisor: a second HUP (it logs "one more will follow"), and
 * `burst` requests on the control socket, each proven handled by a status answer after it.
 */
export async function coalescedReloads(t: ExecutionContext, burst: number): Promise<void> {
  const gate = `${tempDir(t, 'gate')}/open`;
  writeFileSync(gate, '');
  const p = await startPool(t, 'boots-when-gate-opens.js', 2, [], { GATE_FILE: gate });
  rmSync(gate);
  const from = p.events.length;
  p.child.kill('SIGHUP');
  await p.waitForEvent('reload-start', undefined, undefined, from);
  p.child.kill('SIGHUP');
  await p.waitForEvent('reload-queued', undefined, undefined, from);
  const requests = Array.from({ length: burst }, () => reloadThenStatus(controlPath(p.runtimeDir)));
  await Promise.all(requests.map((r) => r.registered));
  // Every request is in; now let the first run's new workers boot.
  writeFileSync(gate, '');
  for (const reply of await Promise.all(requests.map((r) => r.answer))) {
    t.true(reply.ok, reply.error);
    t.regex(reply.result?.message ?? '', DONE);
  }
  const done = () => p.countEvents('reload-end', (e) => e.outcome === 'done', from);
  await until('both runs logged their end', () => done() >= 2);
  t.is(p.countEvents('reload-start', undefined, from), 2, p.lines.join('\n'));
  t.is(p.countEvents('reload-queued', undefined, from), 1);
  t.is((await status(p)).totals.reloads, 2);
  await backToN(p, 2);
}
