// Runs inside a worker: notices a server the app opens itself (`app.listen(3000)` at import), the
// most common tutorial shape. gsup listens for the app on the shared socket; a port the app opens
// is served by one worker alone, unsupervised. Only `listen()` calls pass through here, never a
// request, so the request path costs nothing.

import { Server } from 'node:net';
import { userFrame } from '../error-text.js';

/** A listen() the app called itself: where it listens, and the line of the app that called it. */
export interface AppListen {
  /** `*:3000`, `127.0.0.1:3000`, `unix:/path`, `a random port`. */
  address: string;
  /** `app.js:12`, or null when no frame of the app's own files is on the stack. */
  where: string | null;
}

let ours = false;
const seen: AppListen[] = [];

/**
 * Wraps net.Server's listen (http and https servers inherit it) so that every listen() the app
 * makes is reported. `block` (gsup check) records the call without opening anything.
 */
export function watchAppListens(
  cwd: string,
  onListen: (l: AppListen) => void,
  block = false,
  onFail?: (l: AppListen, err: Error) => void,
): void {
  const listen = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    if (ours) return listen.apply(this, args as never);
    const l = { address: describeListen(args), where: userFrame(new Error('listen'), cwd) };
    seen.push(l);
    onListen(l);
    if (block) return this;
    if (onFail) {
      // The second worker's `app.listen(3000)` fails with EADDRINUSE: unhandled, Node would crash
      // with a stack. When the app has no 'error' listener of its own, say it in one line instead.
      this.once('error', (err: Error) => {
        if (this.listenerCount('error') === 0) onFail(l, err);
      });
    }
    return listen.apply(this, args as never);
  } as typeof listen;
}

/** Runs gsup's own listen() calls, which are not the app's. */
export function asGsup<T>(fn: () => T): T {
  ours = true;
  try {
    return fn();
  } finally {
    ours = false;
  }
}

/** Every listen() the app has called so far. */
export function appListens(): readonly AppListen[] {
  return seen;
}

/** For an app that gave no app but listened itself: the call to remove and where it is, or ''. */
export function ownListenHint(): string {
  const own = seen[0];
  if (!own) return '';
  return `; it called listen() itself (${own.address}${own.where ? `, at ${own.where}` : ''}): remove that call, gsup listens for the app`;
}

/** Where a listen() call's arguments listen: `listen(3000)`, `listen(3000, 'localhost')`, `listen({ port })`. */
export function describeListen(args: readonly unknown[]): string {
  const [first, second] = args;
  let port: unknown = first;
  let host: unknown = typeof second === 'string' ? second : undefined;
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>;
    if (typeof o.path === 'string') return `unix:${o.path}`;
    if (typeof o.fd === 'number') return `fd://${o.fd}`;
    port = o.port;
    host = o.host;
  }
  if (typeof port === 'string' && !/^\d+$/.test(port)) return `unix:${port}`;
  const n = Number(port ?? 0);
  if (!Number.isInteger(n) || n === 0) return 'a random port';
  return `${typeof host === 'string' && host ? host : '*'}:${n}`;
}
