// Runs inside a worker: counts requests and tracks connections so the worker can report its
// load and drain without dropping a request. Per request this costs two counter increments,
// one listener and one histogram increment; totals leave the worker only in heartbeats.

import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BUCKETS, bucketOf, drain as drainHistogram } from '../histogram.js';
import type { WorkerStats } from '../ipc.js';

interface Conn {
  socket: Socket;
  /** Requests on this connection that are not answered yet (or 1 for an upgraded socket). */
  active: number;
  /** performance.now() when it last went idle. */
  idleSince: number;
  /** Already ended by the drain sweep: waiting for it to close. */
  ending: boolean;
}

export class Traffic {
  requests = 0;
  inFlight = 0;
  readonly status: WorkerStats['status'] = [0, 0, 0, 0, 0];
  private readonly latency = new Uint32Array(BUCKETS);
  private readonly conns = new Map<Socket, Conn>();
  private draining = false;

  constructor(private readonly onRequestDone: (total: number) => void) {}

  /** Starts counting the requests and connections of an HTTP server. */
  attach(server: HttpServer | HttpsServer): void {
    // Over TLS, requests arrive on the TLS socket, not the raw one 'connection' reports.
    const connectionEvent = server instanceof HttpsServer ? 'secureConnection' : 'connection';
    server.prependListener(connectionEvent, (socket: Socket) => this.track(socket));
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) =>
      this.onRequest(req, res),
    );
    // An upgraded socket (WebSocket) is busy until it closes. Node emits 'upgrade' only when the
    // app listens for it, and a listener of ours alone would make Node hand every Upgrade request
    // to nobody: so ours joins only once the app adds its own (now or later). Wrapping emit
    // instead would cost every request an allocation.
    const onUpgrade = (req: IncomingMessage) => this.onUpgrade(req);
    let joined = false;
    const join = () => {
      if (joined) return;
      joined = true;
      server.prependListener('upgrade', onUpgrade);
    };
    if (server.listenerCount('upgrade') > 0) join();
    else {
      server.on('newListener', function watch(event: string | symbol) {
        if (event !== 'upgrade') return;
        server.off('newListener', watch);
        join();
      });
    }
  }

  private onUpgrade(req: IncomingMessage): void {
    const conn = this.conns.get(req.socket);
    if (conn) conn.active++;
  }

  /** Latency histogram of the responses since the last call, and resets it. */
  takeLatency(): WorkerStats['latency'] {
    return drainHistogram(this.latency);
  }

  /**
   * From now on every response says `Connection: close`, and idle keep-alive connections are
   * closed once they have been idle for `idleMs` (a client under load sends its next request
   * long before that, and gets a clean `Connection: close` answer instead of a reset).
   */
  startDraining(): void {
    this.draining = true;
  }

  /** Closes connections idle for at least idleMs; returns how many remain open. */
  sweepIdle(idleMs: number): number {
    const now = performance.now();
    for (const conn of this.conns.values()) {
      if (!conn.ending && conn.active === 0 && now - conn.idleSince >= idleMs) {
        conn.ending = true;
        conn.socket.end();
        // A client that never reads our FIN must not hold the worker.
        setTimeout(() => conn.socket.destroy(), 1000).unref();
      }
    }
    return this.conns.size;
  }

  private track(socket: Socket): void {
    const conn: Conn = { socket, active: 0, idleSince: performance.now(), ending: false };
    this.conns.set(socket, conn);
    socket.once('close', () => this.conns.delete(socket));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    this.inFlight++;
    const started = performance.now();
    const conn = this.conns.get(req.socket);
    if (conn) conn.active++;
    if (this.draining) res.setHeader('Connection', 'close');
    res.once('close', () => {
      this.inFlight--;
      const now = performance.now();
      const cls = Math.floor(res.statusCode / 100) - 1;
      if (cls >= 0 && cls < 5) this.status[cls as 0 | 1 | 2 | 3 | 4]++;
      const b = bucketOf(now - started);
      this.latency[b] = (this.latency[b] ?? 0) + 1;
      if (conn) {
        conn.active--;
        conn.idleSince = now;
      }
      this.onRequestDone(this.requests);
    });
  }
}
