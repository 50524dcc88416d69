// Runs inside a worker: counts requests and tells the supervisor how many connections are open,
// so the worker can report its load and drain without dropping a request. It sits on the hottest
// path of every app, so it adds nothing per connection and allocates nothing per request:
// connections are counted and listed by Node itself (net.Server's count, http.Server's list of
// its connections, which Node keeps anyway for its header and request timeouts); each request
// costs a wrapped listener call (a second listener would make every emit copy the listener array),
// one field and one shared 'close' handler on its response. Totals leave the worker only in
// heartbeats. (Exceptions, each cheap next to what it rides on: an HTTPS connection is in a Set
// until its TLS handshake completes; a pipelined request gets a field and a shared 'close' handler.)

import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type TLSSocket, Server as TlsServer } from 'node:tls';
import { BUCKETS, bucketOf, drain as drainHistogram } from '../histogram.js';
import type { WorkerStats } from '../ipc.js';

/** performance.now() when the request reached the app. */
const STARTED = Symbol('gsup.started');
/** A pipelined request's response (the request is told when it closes). */
const RESPONSE = Symbol('gsup.response');
/** With an access log only: the socket's bytesWritten when the request arrived. */
const WRITTEN_BEFORE = Symbol('gsup.writtenBefore');

type Timed = ServerResponse & {
  [STARTED]: number;
  [WRITTEN_BEFORE]?: number;
  /** Node's own: false when the client asked to close, or HTTP/1.0 without keep-alive. */
  shouldKeepAlive: boolean;
};

type Queued = IncomingMessage & { [RESPONSE]?: ServerResponse };

/** Told of every finished response (the access log); absent, the request path pays nothing. */
export interface ResponseLog {
  log(res: ServerResponse, ms: number, bytesBefore: number): void;
}

/** What the drain sweep knows of an idle connection: since when, and how many bytes it had read. */
interface Idle {
  since: number;
  read: number;
}

/** http.Server's own list of its connections (one HTTP parser each), kept by Node since 18.2. */
interface ConnectionList {
  all(): Array<{ socket?: Socket }>;
  idle(): Array<{ socket?: Socket }>;
}
const CONNECTIONS = 'http.server.connections';

export class Traffic {
  requests = 0;
  inFlight = 0;
  /** Milliseconds with at least one request in flight, up to `busySince`. */
  private busyMs = 0;
  /** performance.now() when inFlight last went from 0 to 1. */
  private busySince = 0;
  readonly status: WorkerStats['status'] = [0, 0, 0, 0, 0];
  private readonly latency = new Uint32Array(BUCKETS);
  /** The servers whose requests are counted. */
  private readonly http: Array<HttpServer | HttpsServer> = [];
  /** Every server the worker listens on, whose connections are counted. */
  private listening: NetServer[] = [];
  private draining = false;
  /** While draining: the idle connections the sweep has seen, and since when. */
  private readonly idle = new WeakMap<Socket, Idle>();
  /** While draining: the connections the sweep has ended (each is ended once). */
  private readonly ended = new WeakSet<Socket>();
  /**
   * Per connection that is to close (drained or shed): the response that says `Connection: close`,
   * the newest request's on that connection.
   */
  private readonly closing = new WeakMap<Socket, ServerResponse>();
  /**
   * HTTPS servers' raw connections whose TLS handshake has not completed: counted by net.Server,
   * but in Node's list of HTTP connections only once the handshake is done.
   */
  private readonly handshaking = new Set<Socket>();
  /** Keep-alive balance (see `setShare`): connections still to close before the next share. */
  private toShed = 0;
  /** Connections told to close at the end of their response and not closed yet. */
  private shedding = 0;
  private readonly sheddingSockets = new WeakSet<Socket>();
  /** Connections closed to even out keep-alive load since the worker started. */
  shed = 0;
  /** Shared by every response: `this` is the response. */
  private readonly onResponseClose: (this: Timed) => void;
  /** Shared by every shed connection: `this` is the socket. */
  private readonly onShedClose: () => void;
  /** Shared by every pipelined request: `this` is the request. */
  private readonly onQueuedClose: (this: Queued) => void;
  /** HTTPS only, shared by every raw connection: `this` is the raw socket. */
  private readonly onHandshakeOver: (this: Socket) => void;

  constructor(
    private readonly onRequestDone: (total: number) => void,
    private readonly responseLog: ResponseLog | null = null,
  ) {
    const traffic = this;
    this.onResponseClose = function (this: Timed) {
      traffic.responseDone(this);
    };
    this.onShedClose = () => {
      this.shedding--;
    };
    this.onQueuedClose = function (this: Queued) {
      traffic.unanswered(this);
    };
    this.onHandshakeOver = function (this: Socket) {
      traffic.handshaking.delete(this);
    };
  }

  /** Starts counting the requests of an HTTP server. */
  attach(server: HttpServer | HttpsServer): void {
    this.http.push(server);
    if (!this.listening.includes(server)) this.listening.push(server);
    inFront(server, 'request', (req: IncomingMessage, res: ServerResponse) =>
      this.onRequest(req, res as Timed),
    );
    if (server instanceof TlsServer) {
      // A TLS handshake costs far more than this, and plain HTTP pays nothing for it.
      inFront(server, 'connection', (raw: Socket) => {
        this.handshaking.add(raw);
        raw.on('close', this.onHandshakeOver);
      });
      inFront(server, 'secureConnection', (socket: TLSSocket) => {
        const raw = (socket as TLSSocket & { _parent?: Socket | null })._parent;
        if (raw) this.handshaking.delete(raw);
      });
    }
  }

  /** The servers the worker listens on (attached ones included): their connections are counted. */
  countConnectionsOf(servers: readonly NetServer[]): void {
    this.listening = [...new Set([...this.http, ...servers])];
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
   * From now on every response says `Connection: close`, and `sweepIdle` closes the connections
   * that stay idle (a client under load sends its next request long before that, and gets a clean
   * `Connection: close` answer instead of a reset).
   */
  startDraining(): void {
    this.draining = true;
    // Responses already in flight say it too, where their head has not gone out yet, unless a
    // request is pipelined behind them (its connection closes once idle, after its answer).
    for (const server of this.http) {
      for (const { socket } of connectionList(server)?.all() ?? []) {
        const res = socket && pendingResponse(socket);
        if (res && !res.headersSent && newestRequest(socket) === res.req) {
          this.closeAfter(socket, res);
        }
      }
    }
  }

  /**
   * Client connections open now, upgraded ones (WebSockets) included: net.Server's own count,
   * which `server.getConnections()` reports too, read here without its callback.
   */
  get connections(): number {
    let n = 0;
    for (const s of this.listening) n += connectionsOf(s);
    return n;
  }

  /**
   * Calls `fn` as soon as no connection is left open (at once if none is). For a drain: the
   * servers have stopped listening, so each emits 'close' when its last connection has closed.
   */
  whenNoConnections(fn: () => void): void {
    let called = false;
    const check = () => {
      if (called || this.connections > 0) return;
      called = true;
      fn();
    };
    for (const s of this.listening) if (s.listening || connectionsOf(s) > 0) s.once('close', check);
    check();
  }

  /**
   * The supervisor's word on keep-alive balance: `workers` ready workers (0 turns balance off),
   * whose others hold `peers` open connections. The pool holds `peers` plus this worker's own
   * connections now; what this worker holds above its share, ceil(pool / workers), is closed one
   * by one: the next requests on that many keep-alive connections get `Connection: close`. No
   * more until the next share: the clients reconnect, and the kernel, not this worker, picks where
   * they land (often on the same busy worker, several at once). Shedding whatever lands above the
   * share at once would bounce those reconnections between workers for ever.
   */
  setShare(workers: number, peers: number): void {
    const open = this.connections - this.shedding;
    const share = workers > 1 ? Math.ceil((peers + open) / workers) : open;
    this.toShed = Math.max(0, open - share);
  }

  /**
   * While draining: closes the HTTP connections that have had no request in flight, and read
   * nothing, for at least `idleMs` of consecutive sweeps; returns how many connections remain
   * open. Node's own list says which connections are between requests (a request whose headers
   * are still arriving is not; nor, to Node, is a connection that has not sent a byte yet, which
   * is idle here); bytes read since the last sweep also count as a request on its way. A response
   * is in flight until its last byte has left the worker (Node detaches it from its connection
   * then), not when the app ended it. HTTPS connections still in their TLS handshake are closed
   * the same way. The request path pays nothing for this: it is all read here, during a drain only.
   */
  sweepIdle(idleMs: number): number {
    const now = performance.now();
    for (const server of this.http) {
      const list = connectionList(server);
      // Every Node gsup supports (20 and later) keeps the list; Node's own closeIdleConnections()
      // does nothing without it either. Idle connections then wait for --graceful-timeout.
      if (!list) continue;
      const between = new Set(list.idle());
      for (const conn of list.all()) {
        const socket = conn.socket;
        if (!socket || socket.destroyed || this.ended.has(socket)) continue;
        if ((!between.has(conn) && socket.bytesRead > 0) || pendingResponse(socket)) {
          this.idle.delete(socket);
          continue;
        }
        if (this.quietFor(socket, now, idleMs)) {
          this.ended.add(socket);
          socket.end();
          // A client that never reads our FIN must not hold the worker.
          setTimeout(() => socket.destroy(), 1000).unref();
        }
      }
    }
    for (const raw of this.handshaking) {
      if (this.quietFor(raw, now, idleMs)) raw.destroy();
    }
    return this.connections;
  }

  /** Whether the sweeps have seen `socket` read nothing for `idleMs` (the first only notes it). */
  private quietFor(socket: Socket, now: number, idleMs: number): boolean {
    const read = socket.bytesRead;
    const seen = this.idle.get(socket);
    if (!seen || seen.read !== read) {
      this.idle.set(socket, { since: now, read });
      return false;
    }
    return now - seen.since >= idleMs;
  }

  private onRequest(req: IncomingMessage, res: Timed): void {
    this.requests++;
    const now = performance.now();
    if (this.inFlight++ === 0) this.busySince = now;
    res[STARTED] = now;
    const socket = req.socket;
    if (this.responseLog) res[WRITTEN_BEFORE] = socket.bytesWritten;
    if (this.draining) this.closeAfter(socket, res);
    else if (this.shedding > 0 && this.sheddingSockets.has(socket)) this.closeAfter(socket, res);
    else if (this.toShed > 0 && res.shouldKeepAlive) this.shedOne(socket, res);
    res.on('close', this.onResponseClose);
    // Pipelined behind a response still going out (rare: browsers do not pipeline).
    if (pendingResponse(socket) !== res) {
      (req as Queued)[RESPONSE] = res;
      req.on('close', this.onQueuedClose);
    }
  }

  /**
   * A pipelined request closed. If its connection is gone and its response never got it (the
   * response before closed the connection: it said `Connection: close`, or its client asked for
   * that), Node will neither answer it nor emit 'close' on its response, which would stay in
   * flight for ever and hold a drain until its graceful timeout: it is no longer in flight.
   */
  private unanswered(req: Queued): void {
    const res = req[RESPONSE] as Timed & { _closed?: boolean };
    if (!req.socket.destroyed || res._closed || res.socket !== null || res.writableFinished) return;
    res.off('close', this.onResponseClose);
    this.leave(performance.now());
  }

  /** A request is no longer in flight; busy time ends with the last one. */
  private leave(now: number): void {
    if (--this.inFlight === 0) this.busyMs += now - this.busySince;
  }

  /**
   * Says `Connection: close` on this response, so the client knows not to reuse the connection:
   * no request is lost.
   */
  private shedOne(socket: Socket, res: Timed): void {
    if (this.sheddingSockets.has(socket)) return;
    this.toShed--;
    this.sheddingSockets.add(socket);
    this.shedding++;
    this.shed++;
    socket.once('close', this.onShedClose);
    this.closeAfter(socket, res);
  }

  /**
   * Says `Connection: close` on `res`, the newest response on its connection. A response before
   * it that says so too (a client pipelined this request behind it) takes it back while its head
   * has not gone out: Node closes the connection after a response that says it, and a request
   * pipelined behind that one reaches the app but is never answered.
   */
  private closeAfter(socket: Socket, res: ServerResponse): void {
    const before = this.closing.get(socket);
    if (before !== undefined && before !== res) {
      // Too late: the connection closes after `before`, and the client knows it.
      if (before.headersSent) return;
      before.removeHeader('Connection');
    }
    this.closing.set(socket, res);
    res.setHeader('Connection', 'close');
  }

  private responseDone(res: Timed): void {
    const now = performance.now();
    this.leave(now);
    const cls = ((res.statusCode / 100) | 0) - 1;
    if (cls >= 0 && cls < 5) this.status[cls as 0 | 1 | 2 | 3 | 4]++;
    const ms = now - res[STARTED];
    const b = bucketOf(ms);
    this.latency[b] = (this.latency[b] ?? 0) + 1;
    if (this.responseLog) this.responseLog.log(res, ms, res[WRITTEN_BEFORE] ?? -1);
    this.onRequestDone(this.requests);
  }
}

/** A server's open connections: net.Server's own count (what getConnections() reports). */
function connectionsOf(s: NetServer): number {
  return (s as NetServer & { _connections?: number })._connections ?? 0;
}

/** The response a connection is answering now (Node's own field), if any. */
function pendingResponse(socket: Socket): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/** The request whose headers the connection's parser read last (Node's own field), if any. */
function newestRequest(socket: Socket): IncomingMessage | null {
  const parser = (socket as Socket & { parser?: { incoming?: IncomingMessage | null } | null })
    .parser;
  return parser?.incoming ?? null;
}

/** Node's list of an http.Server's connections, or null on a Node that does not keep one. */
function connectionList(server: HttpServer | HttpsServer): ConnectionList | null {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === CONNECTIONS);
  const list = key ? (server as unknown as Record<symbol, unknown>)[key] : undefined;
  return list &&
    typeof (list as ConnectionList).idle === 'function' &&
    typeof (list as ConnectionList).all === 'function'
    ? (list as ConnectionList)
    : null;
}

// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type
type Listener = (...args: any[]) => void;

/**
 * Runs `first` before the server's own listeners of `event`. The usual single listener (the app's
 * request listener) is swapped for one function that calls both: a second listener would make
 * every emit copy the listener array. The function is named for the frame it adds to a stuck
 * worker's stack. Several listeners, or none, get ours prepended instead, and so does a server
 * whose single listener is later removed.
 */
function inFront(server: NetServer, event: string, first: Listener): void {
  const own = server.listeners(event);
  const only = own.length === 1 ? (own[0] as (...args: unknown[]) => unknown) : undefined;
  if (!only) {
    server.prependListener(event, first);
    return;
  }
  const countedByGsup = function (this: unknown, a: unknown, b: unknown): unknown {
    first(a, b);
    // Returned as is: a server with captureRejections watches an async listener's promise.
    return only.call(this, a, b);
  };
  // EventEmitter matches `.listener` on removal (as for once()): server.off(event, only) and
  // server.listeners(event) still see the server's own function.
  (countedByGsup as { listener?: unknown }).listener = only;
  server.removeListener(event, only);
  server.on(event, countedByGsup);
  server.on('removeListener', function watch(name: string | symbol, fn: unknown) {
    if (name !== event || fn !== only) return;
    server.off('removeListener', watch);
    server.prependListener(event, first);
  });
}
