// A subscriber (`gsup top`, say, suspended with Ctrl-Z) that stops reading while the pool keeps
// logging events. The supervisor must not keep every event for it: past its limit it should drop
// (and say so) or disconnect it. Events come cheaply from refused scale requests on another
// connection ("cannot scale to 0" is logged for each); when the subscriber resumes, the number
// of those it receives shows how many the supervisor held in memory for it.

import net from 'node:net';
import type { ExecutionContext } from 'ava';
import { until } from '../../helpers.js';
import { controlPath } from '../lib/control.js';
import { startPool } from '../lib/pool.js';

/** Sends `count` copies of `line` and resolves once every reply arrived. */
function requests(path: string, line: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path, () => c.write(line.repeat(count)));
    let replies = 0;
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      for (const ch of d) if (ch === '\n') replies++;
      if (replies >= count) {
        c.destroy();
        resolve();
      }
    });
    c.on('error', reject);
  });
}

export async function stuckSubscriber(t: ExecutionContext, events: number): Promise<void> {
  const p = await startPool(t, 'misbehaves-on-request.js', 1);
  const path = controlPath(p.runtimeDir);
  const sub = net.connect(path);
  t.teardown(() => sub.destroy());
  await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
  sub.write('{"cmd":"subscribe"}\n');
  sub.pause();
  await requests(path, '{"cmd":"scale","to":"-1"}\n', events);

  // Resume, and read until a sentinel event logged after the storm arrives (or it hangs up).
  let received = 0;
  let sentinel = false;
  let buffer = '';
  sub.setEncoding('utf8');
  sub.on('data', (d: string) => {
    buffer += d;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.includes('cannot scale to 0')) received++;
      if (line.includes('scaling from 1 to 2')) sentinel = true;
      nl = buffer.indexOf('\n');
    }
  });
  sub.on('close', () => {
    sentinel = true;
  });
  sub.resume();
  await requests(path, '{"cmd":"scale","to":2}\n', 1);
  await until('the subscriber saw the sentinel event or was dropped', () => sentinel);
  t.log(`${events} events while the subscriber was not reading; it got ${received} of them`);
  t.true(
    received < events / 2,
    `the supervisor kept all ${received} events for a subscriber that was not reading`,
  );
}
