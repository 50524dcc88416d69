// Runs in the supervisor (never in a worker): the HTTP server of --metrics. GET /metrics is the
// Prometheus scrape, /healthz says the supervisor runs, /readyz says whether this instance should
// get traffic. Every answer is read from the supervisor's model; a scrape asks the workers nothing.

import { lstatSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { addressUrl, type MetricsAddress } from './address.js';
import { type MetricsSource, PoolMetrics } from './registry.js';

/** Headers and the whole request must arrive within this: a stalled client is dropped. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Connections held at once; Prometheus keeps one. More are refused, not queued in the supervisor. */
const MAX_CONNECTIONS = 64;

const ENDPOINTS = '/metrics, /healthz and /readyz';

/** The metrics and health endpoints of one supervisor. */
export class MetricsServer {
  readonly metrics: PoolMetrics;
  private readonly server: http.Server;
  /** Where it listens, once it does: `http://127.0.0.1:9100` or `unix:/run/gsup-metrics.sock`. */
  url: string | null = null;

  constructor(
    private readonly source: MetricsSource,
    private readonly address: MetricsAddress,
  ) {
    this.metrics = new PoolMetrics(source);
    this.server = http.createServer(
      { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS },
      (req, res) => void this.answer(req, res),
    );
    this.server.maxConnections = MAX_CONNECTIONS;
    // Garbage on the socket (not HTTP, a header too long, a reset) costs that connection only.
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Listens; returns the URL, or a one-line error naming the address and the fix. */
  async listen(): Promise<string> {
    const a = this.address;
    const where = a.kind === 'unix' ? `unix:${a.path}` : addressUrl(a, null).slice(7);
    if (a.kind === 'unix') {
      const stale = await staleSocket(a.path);
      if (stale) throw new MetricsError(`metrics: cannot listen on ${where}: ${stale}`);
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new MetricsError(`metrics: cannot listen on ${where}: ${listenHint(err, a.kind)}`));
      };
      this.server.once('error', onError);
      const done = () => {
        this.server.off('error', onError);
        resolve();
      };
      if (a.kind === 'unix') this.server.listen(a.path, done);
      else this.server.listen(a.port, a.host, done);
    });
    // Errors after listening (EMFILE on accept) must not end the supervisor.
    this.server.on('error', () => undefined);
    const bound = this.server.address();
    this.url = addressUrl(a, typeof bound === 'object' && bound ? bound.port : null);
    return this.url;
  }

  /** Stops listening and drops open connections (a scrape in progress gets cut). */
  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    if (this.address.kind === 'unix' && this.url !== null) {
      try {
        unlinkSync(this.address.path);
      } catch {
        // gone already
      }
    }
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, `method ${req.method} not allowed; use GET\n`, { allow: 'GET, HEAD' });
    }
    switch (path) {
      case '/metrics':
        try {
          const text = await this.metrics.scrape();
          return send(res, 200, text, { 'content-type': this.metrics.contentType });
        } catch (err) {
          return send(res, 500, `metrics failed: ${(err as Error).message}\n`);
        }
      case '/healthz':
        return send(res, 200, 'ok: the supervisor runs\n');
      case '/readyz': {
        const ready = readiness(this.source.snapshot());
        return send(res, ready.ok ? 200 : 503, `${ready.text}\n`);
      }
      default:
        return send(res, 404, `not found: ${path}; gsup serves ${ENDPOINTS}\n`);
    }
  }
}

/** A --metrics address that cannot be used; the message is one line naming the fix. */
export class MetricsError extends Error {}

/** Ready means: not stopping, and at least one worker ready. With the reason, in a line. */
export function readiness(s: { state: string; ready: number; target: number }): {
  ok: boolean;
  text: string;
} {
  if (s.state === 'stopping' || s.state === 'stopped') {
    return { ok: false, text: `not ready: gsup is stopping (${s.ready} workers still ready)` };
  }
  if (s.ready < 1) {
    return { ok: false, text: `not ready: no worker is ready yet (0 of ${s.target})` };
  }
  return { ok: true, text: `ready: ${s.ready} of ${s.target} workers ready` };
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listenHint(err: NodeJS.ErrnoException, kind: 'tcp' | 'unix'): string {
  const code = err.code ?? (typeof err.errno === 'number' ? getSystemErrorName(err.errno) : '');
  const hints: Record<string, string> = {
    EADDRINUSE:
      kind === 'unix'
        ? 'the path is in use'
        : 'address already in use; stop whatever listens there or pick another with --metrics',
    EACCES:
      kind === 'unix'
        ? 'permission denied on the directory'
        : 'permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE',
    EADDRNOTAVAIL: 'address not available on this machine; check the host part of --metrics',
    ENOENT: 'the directory does not exist; create it first',
    ENOTFOUND: 'unknown host',
  };
  return `${hints[code] ?? err.message} (${code || 'error'})`;
}

/**
 * A socket file left at the path: removed if nobody accepts on it (a dead gsup's); otherwise
 * says why the path cannot be used. Null when the path is free.
 */
async function staleSocket(path: string): Promise<string | null> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return null;
  }
  if (!isSocket) return 'the path exists and is not a socket; remove it or choose another path';
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) return 'another server is accepting on it (EADDRINUSE)';
  try {
    unlinkSync(path);
  } catch (err) {
    return `cannot replace the stale socket: ${(err as Error).message}`;
  }
  return null;
}
