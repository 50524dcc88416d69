// A control client that sends many requests and never reads the replies. The server must stop
// reading from it (or drop it) rather than queue every reply in the supervisor's memory: the
// control socket promises that nothing a client sends can crash, block or slow the supervisor.

import net from 'node:net';
import type { ExecutionContext } from 'ava';
import { liveRssKb as rssKb } from '../../../harness/procfs.js';
import { controlPath } from '../lib/control.js';
import { startPool, status } from '../lib/pool.js';

/** What the supervisor may grow by while the client sits on its replies. */
const GROWTH_LIMIT_MB = 64;
/** How long to give the server to read the requests, if it does read them all. */
const READ_CEILING_MS = 3000;

export async function unreadReplies(t: ExecutionContext, requests: number): Promise<void> {
  const p = await startPool(t, 'misbehaves-on-request.js', 1);
  const before = rssKb(p.pid);
  const client = net.connect(controlPath(p.runtimeDir));
  t.teardown(() => client.destroy());
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  client.pause(); // never reads: every reply stays in the server's hands
  const consumed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), READ_CEILING_MS);
    // 'drain': the server has read everything (a unix socket buffers only a few hundred kB).
    const flushed = client.write('{"cmd":"status"}\n'.repeat(requests));
    if (flushed) resolve(true);
    else
      client.once('drain', () => {
        clearTimeout(timer);
        resolve(true);
      });
  });
  const readAll = await consumed;
  // A round trip on another connection: the server's loop got past what it read.
  await status(p);
  const grownMb = (rssKb(p.pid) - before) / 1024;
  t.log(
    `${requests} unread status requests: the server ${readAll ? 'read them all' : 'stopped reading'}, RSS +${grownMb.toFixed(0)} MB`,
  );
  t.true(
    grownMb < GROWTH_LIMIT_MB,
    `the supervisor grew by ${grownMb.toFixed(0)} MB holding replies nobody reads`,
  );
  client.destroy();
}
