// Graceful stop with a slow request in flight: it completes with 200, then gsup exits 0. Once
// through SIGTERM and once through `gsup stop`, the two front doors to the same command.

import type { ExecutionContext } from 'ava';
import { get, gsupVerb } from '../../helpers.js';
import { startPool } from '../lib/pool.js';

export async function gracefulStop(
  t: ExecutionContext,
  door: 'SIGTERM' | 'gsup stop',
): Promise<void> {
  const p = await startPool(t, 'misbehaves-on-request.js', 2);
  const slow = get(`${p.base}/slow?ms=2000&log=1`);
  await p.waitFor(/got \/slow\?ms=2000&log=1/);
  let stopped: ReturnType<typeof gsupVerb> | null = null;
  if (door === 'SIGTERM') p.child.kill('SIGTERM');
  else stopped = gsupVerb(['stop'], p.env);
  const r = await slow;
  t.is(r.status, 200);
  t.regex(r.body, /^ok \d+\n$/);
  t.is(await p.exited, 0);
  if (stopped) t.is((await stopped).code, 0);
  t.is(p.count(/graceful stop/), 1);
}
