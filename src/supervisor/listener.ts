// Runs in the supervisor: makes the listening sockets. The supervisor binds each one once and
// never polls or accepts on it; workers inherit the fd and accept straight from the kernel
// queue. Keeping our fd open for life keeps the queue alive while workers die and are replaced.
// A short-lived child puts the sockets in the LISTEN state at once (`startListening`), so that
// clients who connect before the first worker is ready wait in the backlog instead of being refused.

import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { fstatSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';

export type BindSpec =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number };

/** A bound socket the supervisor holds open for its whole life. */
export interface Listener {
  spec: BindSpec;
  /** The supervisor's fd for the socket; passed down to every worker. */
  fd: number;
  /** Where it really is, e.g. `http://127.0.0.1:43121` or `unix:/run/app.sock`. */
  url: string;
  /** The port the OS gave (TCP only): the real one when asked for port 0. */
  port: number | null;
  /**
   * Closes our fd; a unix socket's file is removed too. `keepPath`: a new gsup serves it now, so
   * the file stays (and a unix socket's fd closes with this process).
   */
  close(opts?: { keepPath?: boolean }): void;
}

/** A socket that could not be made, with a one-line message naming the address and the fix. */
export class BindError extends Error {}

/** Parses `HOST:PORT`, `:PORT`, `[::1]:PORT`, `unix:/path` or `fd://N`, or returns an error line. */
export function parseBind(value: string): BindSpec | string {
  const expected = `bind: expected HOST:PORT, :PORT, [IPv6]:PORT, unix:/PATH or fd://N, got ${JSON.stringify(value)}${bindHint(value)}`;
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    return path.startsWith('/') || path.startsWith('.') ? { kind: 'unix', path } : expected;
  }
  if (value.startsWith('fd://')) {
    const digits = value.slice(5);
    return /^\d{1,9}$/.test(digits) ? { kind: 'fd', fd: Number(digits) } : expected;
  }
  const m = /^(?:\[(?<v6>[0-9A-Fa-f:.]+)\]|(?<host>[^:[\]\s]*)):(?<port>\d{1,5})$/.exec(value);
  if (!m?.groups) return expected;
  const port = Number(m.groups.port);
  if (port > 65535) return `bind: port must be 0 to 65535, got ${port} in ${JSON.stringify(value)}`;
  const host = m.groups.v6 ?? (m.groups.host || '0.0.0.0');
  return { kind: 'tcp', host, port };
}

/** The address a user likely meant by a bind gsup cannot read, as `; did you mean ...?`, or ''. */
function bindHint(value: string): string {
  // `-b 8000`: a bare port, as other servers take it.
  if (/^\d{1,5}$/.test(value))
    return `; did you mean :${value} (every interface) or 127.0.0.1:${value} (this machine only)?`;
  // `-b http://127.0.0.1:8000/`: a URL where an address goes.
  const url = /^[a-z]+:\/\/(?<addr>[^/]+)\/?$/.exec(value)?.groups?.addr;
  if (url && !value.startsWith('fd://')) return `; did you mean ${url}?`;
  // `-b 127.0.0.1` or `-b localhost`: a host with no port.
  if (/^[\w.-]+$/.test(value)) return `; add the port, e.g. ${value}:8000`;
  return '';
}

/** Describes a bind spec the way a user wrote it. */
export function formatBind(spec: BindSpec): string {
  if (spec.kind === 'unix') return `unix:${spec.path}`;
  if (spec.kind === 'fd') return `fd://${spec.fd}`;
  return net.isIPv6(spec.host) ? `[${spec.host}]:${spec.port}` : `${spec.host}:${spec.port}`;
}

interface RawHandle {
  fd: number;
  close(): void;
  getsockname?(out: Record<string, unknown>): number;
}
type CreateServerHandle = (
  address: string | null,
  port: number,
  addressType: number,
  fd?: number,
) => RawHandle | number;
// Node's own bind-without-listen: what the cluster module uses for its shared handles.
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })
  ._createServerHandle;

/** libuv's error codes are negated errnos. */
const UV_EADDRINUSE = -constants.errno.EADDRINUSE;

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

function errnoText(err: number, kind: 'tcp' | 'unix' = 'tcp'): string {
  const name = getSystemErrorName(err);
  const hints: Record<string, string> =
    kind === 'unix'
      ? {
          ENOENT: 'the directory does not exist; create it first',
          EACCES: 'permission denied on the directory',
          EADDRINUSE: 'the path is in use',
        }
      : {
          EADDRINUSE: 'address already in use; stop whatever listens there or pick another with -b',
          EACCES: 'permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE',
          EADDRNOTAVAIL: 'address not available on this machine; check the host part of -b',
        };
  return `${hints[name] ?? 'cannot bind'} (${name})`;
}

/** Binds (without listening) the socket described by spec. Throws BindError. */
export async function openListener(spec: BindSpec): Promise<Listener> {
  if (spec.kind === 'fd') return adoptFd(spec);
  if (spec.kind === 'unix') return bindUnix(spec);
  let address = spec.host;
  if (net.isIP(address) === 0) {
    try {
      address = (await lookup(spec.host)).address;
    } catch {
      throw new BindError(
        `cannot bind ${formatBind(spec)}: unknown host ${JSON.stringify(spec.host)}`,
      );
    }
  }
  const family = net.isIPv6(address) ? 6 : 4;
  const handle = createServerHandle(address, spec.port, family);
  if (typeof handle === 'number') {
    throw new BindError(`cannot bind ${formatBind(spec)}: ${errnoText(handle)}`);
  }
  const out: Record<string, unknown> = {};
  handle.getsockname?.(out);
  // libuv defers EADDRINUSE from bind(2) to listen(2), and we never listen here. An unbound
  // socket reports port 0; left alone, a worker's listen would put it on a random port.
  if (
    typeof out.port !== 'number' ||
    out.port === 0 ||
    (spec.port !== 0 && out.port !== spec.port)
  ) {
    handle.close();
    throw new BindError(`cannot bind ${formatBind(spec)}: ${errnoText(UV_EADDRINUSE)}`);
  }
  const port = out.port;
  const shown = family === 6 ? `[${address}]` : address;
  return { spec, fd: handle.fd, url: `http://${shown}:${port}`, port, close: () => handle.close() };
}

async function bindUnix(spec: { kind: 'unix'; path: string }): Promise<Listener> {
  const where = `unix:${spec.path}`;
  const bytes = Buffer.byteLength(spec.path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    // The kernel would silently cut it (sockaddr_un.sun_path is 108 bytes with the NUL).
    throw new BindError(
      `cannot bind ${where}: the path is ${bytes} bytes; unix sockets allow ${MAX_UNIX_PATH_BYTES}`,
    );
  }
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(spec.path);
  } catch {
    stat = undefined;
  }
  if (stat && !stat.isSocket()) {
    throw new BindError(
      `cannot bind ${where}: the path exists and is not a socket; remove it or choose another path`,
    );
  }
  if (stat) {
    if (await isAlive(spec.path)) {
      throw new BindError(`cannot bind ${where}: another server is accepting on it (EADDRINUSE)`);
    }
    try {
      unlinkSync(spec.path); // a stale socket left by a dead process
    } catch (err) {
      throw new BindError(`cannot replace the stale socket ${where}: ${(err as Error).message}`);
    }
  }
  const handle = createServerHandle(spec.path, -1, -1);
  if (typeof handle === 'number')
    throw new BindError(`cannot bind ${where}: ${errnoText(handle, 'unix')}`);
  return {
    spec,
    fd: handle.fd,
    url: where,
    port: null,
    close: unixCloser(handle, spec.path),
  };
}

/** Closes a unix socket's handle and removes its file, unless a new gsup has taken it over. */
function unixCloser(handle: RawHandle, path: string): Listener['close'] {
  return (opts) => {
    // libuv's close of a socket it bound unlinks the path by name, and after an upgrade the path
    // is the new gsup's: our fd is left to close with this process, which is about to exit.
    if (opts?.keepPath) return;
    handle.close();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

/**
 * Adopts a listening socket inherited from the old gsup of an upgrade (src/supervisor/upgrade.ts)
 * in place of binding `spec`: the same socket, so no connection in its queue is lost. It is ours
 * now: closing it closes our copy, and a unix socket's file goes with it as if we had bound it.
 */
export function adoptListener(spec: BindSpec, fd: number): Listener {
  const where = formatBind(spec);
  let socket = false;
  try {
    socket = fstatSync(fd).isSocket();
  } catch {
    socket = false;
  }
  if (!socket) {
    throw new BindError(`cannot adopt the inherited socket for ${where}: fd ${fd} is not a socket`);
  }
  const handle = createServerHandle(null, 0, -1, fd);
  if (typeof handle === 'number') {
    throw new BindError(`cannot adopt the inherited socket for ${where}: ${errnoText(handle)}`);
  }
  if (spec.kind === 'unix') {
    return { spec, fd, url: where, port: null, close: unixCloser(handle, spec.path) };
  }
  const out: Record<string, unknown> = {};
  handle.getsockname?.(out);
  const port = typeof out.port === 'number' ? out.port : null;
  const host = typeof out.address === 'string' ? out.address : null;
  const url =
    host && port !== null ? `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}` : where;
  return { spec, fd, url, port, close: () => handle.close() };
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function adoptFd(spec: { kind: 'fd'; fd: number }): Listener {
  const where = `fd://${spec.fd}`;
  try {
    if (!fstatSync(spec.fd).isSocket())
      throw new BindError(`cannot use ${where}: it is not a socket`);
  } catch (err) {
    if (err instanceof BindError) throw err;
    throw new BindError(`cannot use ${where}: no such open file descriptor`);
  }
  // Port 0 and no address: adopt the fd as it is, no bind.
  const handle = createServerHandle(null, 0, -1, spec.fd);
  if (typeof handle === 'number') throw new BindError(`cannot use ${where}: ${errnoText(handle)}`);
  const out: Record<string, unknown> = {};
  handle.getsockname?.(out);
  const port = typeof out.port === 'number' ? out.port : null;
  const host = typeof out.address === 'string' ? out.address : null;
  const url =
    host && port !== null ? `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}` : where;
  // The fd belongs to whoever passed it (systemd, a parent); never close it behind their back.
  return { spec, fd: spec.fd, url, port, close: () => {} };
}

/**
 * Runs in a child that inherits the sockets as fd 3, 4, ...: listen(2) on each with the backlog,
 * then exit in the same tick. The child's event loop never runs, so it never accepts; the sockets
 * stay in LISTEN because the supervisor still holds them. Node reads the backlog of an fd listen
 * from the second argument only (`options.backlog` is ignored on that path).
 */
const LISTEN_ONCE = `
const net = require('node:net');
const backlog = Number(process.argv[1]);
const count = Number(process.argv[2]);
for (let i = 0; i < count; i++) {
  const s = new net.Server();
  s.once('error', (e) => { process.stderr.write(i + ' ' + (e.code || e.message)); process.exit(1); });
  s.listen({ fd: 3 + i }, backlog);
  if (!s.listening) process.exitCode = 1;
}
if (process.exitCode !== 1) process.exit(0);
`;

/** Puts bound sockets in the LISTEN state with `backlog`, without this process ever polling them. Throws BindError. */
export async function startListening(
  listeners: readonly Listener[],
  backlog: number,
): Promise<void> {
  if (listeners.length === 0) return;
  const failure = await new Promise<string | null>((resolve) => {
    const child = spawn(
      process.execPath,
      ['-e', LISTEN_ONCE, String(backlog), String(listeners.length)],
      {
        // No NODE_OPTIONS or other environment: nothing but this script may run in it.
        env: {},
        stdio: ['ignore', 'ignore', 'pipe', ...listeners.map((l) => l.fd)],
      },
    );
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('error', (e) => resolve(`cannot start node to listen (${e.message})`));
    child.once('close', (code, signal) => {
      if (code === 0) resolve(null);
      else resolve(err.trim() || `the listen helper exited (${signal ?? `code ${code}`})`);
    });
  });
  if (failure === null) return;
  // "INDEX CODE" from the helper names the socket and the errno.
  const m = /^(\d+) (\S+)/.exec(failure);
  const which = m ? listeners[Number(m[1])] : undefined;
  const where = which
    ? formatBind(which.spec)
    : listeners.map((l) => formatBind(l.spec)).join(', ');
  const name = m?.[2] ?? '';
  const why =
    name === 'EADDRINUSE'
      ? 'address already in use; stop whatever listens there or pick another with -b'
      : `${failure}; check the address and --backlog`;
  throw new BindError(`cannot listen on ${where}: ${why}`);
}

/**
 * The kernel's cap on any listen(2) backlog (net.core.somaxconn, per network namespace): a larger
 * --backlog is silently cut to it. Null where it cannot be read (not Linux).
 */
export function somaxconn(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}
