// Where the metrics server listens (--metrics): HOST:PORT, :PORT, [IPv6]:PORT or unix:/PATH.
// Never the app's own address: the supervisor binds that one for the workers.

import { resolve } from 'node:path';
import { type BindSpec, formatBind, parseBind } from '../supervisor/listener.js';

export type MetricsAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

/** A wildcard host takes the port on every interface. */
const ANY_HOST = new Set(['0.0.0.0', '::', '']);

/** Parses a --metrics value, refusing the app's own binds; returns the address or a one-line error. */
export function parseMetricsAddress(
  value: string,
  binds: readonly BindSpec[],
): MetricsAddress | string {
  const parsed = parseBind(value);
  const expected = `metrics: expected HOST:PORT, :PORT, [IPv6]:PORT or unix:/PATH, got ${JSON.stringify(value)}`;
  if (typeof parsed === 'string') {
    return parsed.startsWith('bind: port') ? parsed.replace(/^bind:/, 'metrics:') : expected;
  }
  if (parsed.kind === 'fd') return expected;
  const clash = binds.find((b) => sameAddress(parsed, b));
  if (clash) {
    return `metrics: ${value} is the app's own address (bind ${formatBind(clash)}); give the metrics an address of their own, e.g. --metrics 127.0.0.1:9100`;
  }
  return parsed;
}

/** True when listening on `a` would take the socket of bind `b`. */
function sameAddress(a: MetricsAddress, b: BindSpec): boolean {
  if (a.kind === 'unix' || b.kind === 'unix') {
    return a.kind === 'unix' && b.kind === 'unix' && resolve(a.path) === resolve(b.path);
  }
  if (b.kind !== 'tcp' || a.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || ANY_HOST.has(a.host) || ANY_HOST.has(b.host);
}

/** How the address reads in a URL: `http://127.0.0.1:9100`, `http://[::1]:9100`, `unix:/run/m.sock`. */
export function addressUrl(a: MetricsAddress, port: number | null): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `http://${host}:${port ?? a.port}`;
}
