// Runs in the supervisor: systemd's notification protocol (sd_notify(3)) on the wire. A message
// is `KEY=VALUE` lines in one datagram to the unix socket named by NOTIFY_SOCKET (a path, or
// `@name` for an abstract socket), sent from gsup's own pid: systemd's default NotifyAccess=main
// drops messages from any other process.

import { loadNative, NATIVE_FIX } from '../native/native.js';

/** The fields of one message, in the order they are sent (`READY: '1'` → `READY=1`). */
export type NotifyFields = Record<string, string | number | bigint>;

/** Sends messages to one notify socket; `notify` never throws. */
export interface Notifier {
  /** Sends the fields as one message; false (and one warning) when it could not. */
  notify(fields: NotifyFields): boolean;
  readonly address: string;
}

/** The message text: one `KEY=VALUE` line per field. Values may not span lines. */
export function formatMessage(fields: NotifyFields): string {
  let text = '';
  for (const [key, value] of Object.entries(fields)) {
    text += `${key}=${String(value).replace(/\n/g, ' ')}\n`;
  }
  return text;
}

/** Where NOTIFY_SOCKET points, or why it cannot be used; null when it is not set. */
export function notifyAddress(
  env: NodeJS.ProcessEnv,
): { address: string } | { error: string } | null {
  const value = env.NOTIFY_SOCKET;
  if (!value) return null;
  // sockaddr_un's path holds 108 bytes; an abstract name is `@` + up to 107.
  if ((value.startsWith('/') || value.startsWith('@')) && value.length > 1 && value.length <= 108) {
    return { address: value };
  }
  return {
    error: `NOTIFY_SOCKET=${value} is not a unix socket path or @abstract name of at most 108 bytes; systemd notification is off`,
  };
}

/**
 * A sender for NOTIFY_SOCKET, or a one-line reason why there is none (not set: null reason and
 * null notifier). `warn` hears each distinct send failure once.
 */
export function notifySocket(
  env: NodeJS.ProcessEnv,
  warn: (text: string) => void,
): { notifier: Notifier | null; problem: string | null } {
  const where = notifyAddress(env);
  if (where === null) return { notifier: null, problem: null };
  if ('error' in where) return { notifier: null, problem: where.error };
  const { native, error } = loadNative();
  if (!native) {
    return {
      notifier: null,
      problem: `NOTIFY_SOCKET is set but gsup cannot notify systemd: ${NATIVE_FIX} (${error})`,
    };
  }
  const failed = new Set<string>();
  return {
    notifier: {
      address: where.address,
      notify(fields) {
        try {
          native.notify(where.address, formatMessage(fields));
          return true;
        } catch (err) {
          const e = err as Error & { reason?: string };
          const why = `${e.message}: ${e.reason ?? ''}`;
          if (!failed.has(why)) {
            failed.add(why);
            warn(
              `cannot notify systemd at NOTIFY_SOCKET=${where.address} (${why}); said once per kind of failure`,
            );
          }
          return false;
        }
      },
    },
    problem: null,
  };
}

/** CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC wants it (libuv's hrtime is that clock). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}
