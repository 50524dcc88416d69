// Runs in the supervisor: loads gsup's native helper (native/gsup_native.c, built by node-gyp at
// `npm ci`/`npm install`). It is optional: where it could not be built, gsup runs without it and
// the features that need it (systemd notification, reaping orphans as PID 1) say what to do.

import { createRequire } from 'node:module';

/** The helper's two calls (see native/gsup_native.c). */
export interface Native {
  /** Sends one datagram to a unix socket (a path, or `@name` for an abstract one). Throws with `errno`. */
  notify(address: string, message: string): void;
  /** waitpid(pid, WNOHANG): the pid when reaped, 0 while it runs, -errno otherwise. */
  reap(pid: number): number;
}

/** What to do when the helper is missing, said in one place. */
export const NATIVE_FIX =
  'the native helper (build/Release/gsup_native.node) is not built: install a C compiler, make and python3, then run `npm rebuild gsup` (or `npm ci` in a checkout)';

let loaded: { native: Native | null; error: string | null } | null = null;

/** The native helper, or null with the reason it could not be loaded. */
export function loadNative(): { native: Native | null; error: string | null } {
  if (loaded) return loaded;
  try {
    const require = createRequire(import.meta.url);
    loaded = {
      native: require('../../build/Release/gsup_native.node') as Native,
      error: null,
    };
  } catch (err) {
    loaded = { native: null, error: (err as Error).message.split('\n')[0] ?? String(err) };
  }
  return loaded;
}
