// Runs inside a worker: counts requests and tracks connections so the worker can report its
// load and drain without dropping a request. It sits on the hottest path of every app, so it
// allocates nothing per request or per connection: the server's own request and connection
// listeners are wrapped (a second listener would make every emit copy the listener array), each
// response gets one shared 'close' handler and one field, each connection one shared 'close'
// handler, three fields and a Set entry. Totals leave the worker only in heartbeats.

import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BUCKETS, bucketOf, drain as drainHistogram } from '../histogram.js';
import type { WorkerStats } from '../ipc.js';

/** performance.now() when the request reached the app. */
const STARTED = Symbol('gsup.started');
/** Per connection: requests not answered yet (or 1 while upgraded), and since when it is idle. */
const ACTIVE = Symbol('gsup.active');
const IDLE_SINCE = Symbol('gsup.idleSince');
/** Already ended by the drain sweep: waiting for it to close. */
const ENDING = Symbol('gsup.ending');
/** Bytes read from it when the drain sweep last looked: more since means a request is arriving. */
const READ_SEEN = Symbol('gsup.readSeen');
/** With an access log only: the socket's bytesWritten when the request arrived. */
const WRITTEN_BEFORE = Symbol('gsup.writtenBefore');
/** Told to close at the end of its response to even out keep-alive load (false: not yet). */
const SHED = Symbol('gsup.shed');

type Timed = ServerResponse & { [STARTED]: number; [WRITTEN_BEFORE]?: number };

/** Told of every finished response (the access log); absent, the request path pays nothing. */
export interface ResponseLog {
  log(res: ServerResponse, ms: number, bytesBefore: number): void;
}
type Tracked = Socket & {
  [ACTIVE]: number;
  [IDLE_SINCE]: number;
  [ENDING]?: true;
  [READ_SEEN]?: number;
  [SHED]: boolean;
};

export class Traffic {
  requests = 0;
  inFlight = 0;
  /** Milliseconds with at least one request in flight, up to `busySince`. */
  private busyMs = 0;
  /** performance.now() when inFlight last went from 0 to 1. */
  private busySince = 0;
  readonly status: WorkerStats['status'] = [0, 0, 0, 0, 0];
  private readonly latency = new Uint32Array(BUCKETS);
  private readonly conns = new Set<Tracked>();
  private draining = false;
  /** Keep-alive balance (see `setShare`): connections still to close before the next share. */
  private toShed = 0;
  /** Connections told to close at the end of their response and not closed yet. */
  private shedding = 0;
  /** Connections closed to even out keep-alive load since the worker started. */
  shed = 0;
  /** Called once when the last connection closes while draining. */
  private onLastClose: (() => void) | null = null;
  /** Shared by every response and every connection: `this` is the response or the socket. */
  private readonly onResponseClose: (this: Timed) => void;
  private readonly onConnectionClose: (this: Tracked) => void;
  private readonly onConnection: (socket: Socket) => void;

  constructor(
    private readonly onRequestDone: (total: number) => void,
    private readonly responseLog: ResponseLog | null = null,
  ) {
    const traffic = this;
    this.onResponseClose = function (this: Timed) {
      traffic.responseDone(this);
    };
    this.onConnectionClose = function (this: Tracked) {
      traffic.conns.delete(this);
      if (this[SHED]) traffic.shedding--;
      if (traffic.conns.size === 0 && traffic.onLastClose) traffic.onLastClose();
    };
    this.onConnection = (socket) => this.track(socket as Tracked);
  }

  /** Starts counting the requests and connections of an HTTP server. */
  attach(server: HttpServer | HttpsServer): void {
    // Over TLS, requests arrive on the TLS socket, not the raw one 'connection' reports.
    const connectionEvent = server instanceof HttpsServer ? 'secureConnection' : 'connection';
    inFront(server, connectionEvent, this.onConnection);
    inFront(server, 'request', (req: IncomingMessage, res: ServerResponse) =>
      this.onRequest(req, res as Timed),
    );
    // An upgraded socket (WebSocket) is busy until it closes. Node emits 'upgrade' only when the
    // app listens for it, and a listener of ours alone would make Node hand every Upgrade request
    // to nobody: so ours joins only once the app adds its own (now or later).
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
    const socket = req.socket as Tracked;
    if (this.conns.has(socket)) socket[ACTIVE]++;
  }

  /** Milliseconds spent with at least one request in flight since the worker started. */
  busyTotal(): number {
    return this.inFlight > 0 ? this.busyMs + (performance.now() - this.busySince) : this.busyMs;
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

  /** Client connections open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Calls `fn` as soon as no connection is left open (at once if none is). */
  whenNoConnections(fn: () => void): void {
    this.onLastClose = fn;
    if (this.conns.size === 0) fn();
  }

  /**
   * The supervisor's word on keep-alive balance: `workers` ready workers (0 turns balance off),
   * whose others hold `peers` open connections. The pool holds `peers` plus this worker's own
   * connections now; what this worker holds above its share, ceil(pool / workers), is closed one
   * by one: the next requests on that many connections get `Connection: close`. No more until
   * the next share: the clients reconnect, and the kernel, not this worker, picks where they
   * land (often on the same busy worker, several at once). Shedding whatever lands above the
   * share at once would bounce those reconnections between workers for ever.
   */
  setShare(workers: number, peers: number): void {
    const open = this.conns.size - this.shedding;
    const share = workers > 1 ? Math.ceil((peers + open) / workers) : open;
    this.toShed = Math.max(0, open - share);
  }

  /** Closes connections idle for at least idleMs; returns how many remain open. */
  sweepIdle(idleMs: number): number {
    const now = performance.now();
    for (const socket of this.conns) {
      // Bytes read since the last look are a request on its way (its headers may be incomplete):
      // not idle. Read here, during a drain only, so the request path pays nothing for it.
      const read = socket.bytesRead;
      if (socket[READ_SEEN] !== undefined && socket[READ_SEEN] !== read) socket[IDLE_SINCE] = now;
      socket[READ_SEEN] = read;
      if (!socket[ENDING] && socket[ACTIVE] === 0 && now - socket[IDLE_SINCE] >= idleMs) {
        socket[ENDING] = true;
        socket.end();
        // A client that never reads our FIN must not hold the worker.
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    }
    return this.conns.size;
  }

  private track(socket: Tracked): void {
    socket[ACTIVE] = 0;
    socket[IDLE_SINCE] = performance.now();
    socket[SHED] = false;
    this.conns.add(socket);
    socket.on('close', this.onConnectionClose);
  }

  private onRequest(req: IncomingMessage, res: Timed): void {
    this.requests++;
    const now = performance.now();
    if (this.inFlight++ === 0) this.busySince = now;
    res[STARTED] = now;
    const socket = req.socket as Tracked;
    if (this.responseLog) res[WRITTEN_BEFORE] = socket.bytesWritten;
    // Connections handed in by an app's own extra server are tracked too; anything else is not.
    if (socket[ACTIVE] !== undefined) socket[ACTIVE]++;
    if (this.draining) res.setHeader('Connection', 'close');
    else if (this.toShed > 0 && socket[SHED] === false) {
      this.toShed--;
      // Said on this response, so the client knows not to reuse the connection: no request is lost.
      socket[SHED] = true;
      this.shedding++;
      this.shed++;
      res.setHeader('Connection', 'close');
    }
    res.on('close', this.onResponseClose);
  }

  private responseDone(res: Timed): void {
    const now = performance.now();
    if (--this.inFlight === 0) this.busyMs += now - this.busySince;
    const cls = ((res.statusCode / 100) | 0) - 1;
    if (cls >= 0 && cls < 5) this.status[cls as 0 | 1 | 2 | 3 | 4]++;
    const ms = now - res[STARTED];
    const b = bucketOf(ms);
    this.latency[b] = (this.latency[b] ?? 0) + 1;
    const socket = res.req.socket as Tracked;
    if (socket[ACTIVE] !== undefined) {
      socket[ACTIVE]--;
      socket[IDLE_SINCE] = now;
    }
    if (this.responseLog) this.responseLog.log(res, ms, res[WRITTEN_BEFORE] ?? -1);
    this.onRequestDone(this.requests);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type
type Listener = (...args: any[]) => void;

/**
 * Runs `first` before the server's own listeners of `event`. The usual single listener (http's
 * connection handler, the app's request listener) is swapped for one function that calls both:
 * a second listener would make every emit copy the listener array. Several listeners, or none,
 * get ours prepended instead, and so does a server whose single listener is later removed.
 */
function inFront(server: HttpServer | HttpsServer, event: string, first: Listener): void {
  const own = server.listeners(event);
  const only = own.length === 1 ? (own[0] as (...args: unknown[]) => unknown) : undefined;
  if (!only) {
    server.prependListener(event, first);
    return;
  }
  const both = function (this: unknown, a: unknown, b: unknown): unknown {
    first(a, b);
    // Returned as is: a server with captureRejections watches an async listener's promise.
    return only.call(this, a, b);
  };
  // EventEmitter matches `.listener` on removal (as for once()): server.off(event, only) and
  // server.listeners(event) still see the server's own function.
  (both as { listener?: unknown }).listener = only;
  server.removeListener(event, only);
  server.on(event, both);
  server.on('removeListener', function watch(name: string | symbol, fn: unknown) {
    if (name !== event || fn !== only) return;
    server.off('removeListener', watch);
    server.prependListener(event, first);
  });
}
