// The entry point of every worker process. It loads the user's app, listens on the sockets the
// supervisor passed down (it never binds one itself), reports readiness and heartbeats, and
// drains on SIGTERM. It must never listen for SIGINT: that would switch off --trace-sigint, which
// is how a hung worker's stack reaches the log. When it starts draining it emits `gsup:drain` on
// `process`, so that the app can close what only it can close (WebSocket close frames, ending
// event streams); the worker exits as soon as its last connection has closed.

import http from 'node:http';
import https from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseAppSpec } from '../app-spec.js';
import { oneLine } from '../error-text.js';
import { WORKER_BOOT_ERROR } from '../exit-codes.js';
import { parseSupervisorMessage, type WorkerConfig, type WorkerMessage } from '../ipc.js';
import { AccessLog } from './access-log.js';
import { AppLoadError, type LoadedApp, loadApp } from './load-app.js';
import { asGsup, ownListenHint, watchAppListens } from './own-listen.js';
import { Traffic } from './traffic.js';

/** How often a draining worker looks for idle connections to close. */
const SWEEP_MS = 100;
/** The event on `process` that tells the app its worker is draining (documented in the README). */
const DRAIN_EVENT = 'gsup:drain';
/** How often a changed connection count is reported between heartbeats. */
const CONNS_REPORT_MS = 100;
/** After the supervisor is gone, in-flight requests get this long before the worker exits. */
const ORPHAN_GRACE_MS = 1000;

function send(msg: WorkerMessage): void {
  if (process.connected) process.send?.(msg);
}

/** Reports why the app cannot boot and exits once the message is on its way. */
function bootFail(message: string, where: string | null): void {
  const exit = () => process.exit(WORKER_BOOT_ERROR);
  if (!process.connected || !process.send) {
    exit();
    return;
  }
  process.send({ t: 'boot-error', message, where } satisfies WorkerMessage, undefined, {}, exit);
  setTimeout(exit, 1000).unref();
}

function readConfig(): WorkerConfig {
  const raw = process.env.GSUP_WORKER;
  if (!raw || !process.send) {
    process.stderr.write('gsup: this is the worker runtime; start it with `gsup start APP`\n');
    process.exit(WORKER_BOOT_ERROR);
  }
  delete process.env.GSUP_WORKER;
  // The protocol's LISTEN_PID is the worker's own pid (sd_listen_fds checks it): only we know it.
  process.env.LISTEN_PID = String(process.pid);
  return JSON.parse(raw) as WorkerConfig;
}

/** One listening server per inherited fd, all feeding the app. */
function buildServers(
  app: LoadedApp,
  count: number,
): { http: Array<http.Server | https.Server>; listeners: NetServer[] } {
  if (app.kind === 'listener') {
    const servers = Array.from({ length: count }, () => http.createServer(app.listener));
    return { http: servers, listeners: servers };
  }
  // The app built its own server: extra sockets hand their connections to it.
  const main = app.server;
  const extra = Array.from(
    { length: count - 1 },
    () => new NetServer((socket: Socket) => main.emit('connection', socket)),
  );
  // http.Server and https.Server (which is not an http.Server) both get request accounting.
  const counted = main instanceof http.Server || main instanceof https.Server ? [main] : [];
  return { http: counted, listeners: [main, ...extra] };
}

function listenOn(server: NetServer, fd: number, backlog: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    // The backlog as the 2nd argument: Node ignores `options.backlog` when listening on an fd.
    asGsup(() =>
      server.listen({ fd }, backlog, () => {
        server.off('error', onError);
        const addr = server.address();
        resolve(
          typeof addr === 'string' ? addr : addr ? `${addr.address}:${addr.port}` : `fd ${fd}`,
        );
      }),
    );
  });
}

async function main(): Promise<void> {
  const cfg = readConfig();
  let accessLog: AccessLog | null = null;
  if (cfg.accessLog) {
    const { format, ...target } = cfg.accessLog;
    try {
      accessLog = new AccessLog(target, format, Number(process.env.GSUP_SLOT), (message) =>
        send({ t: 'warn', message }),
      );
    } catch (err) {
      bootFail(`access log: ${oneLine(err)}`, null);
      return;
    }
  }
  let recycleAsked = false;
  const traffic = new Traffic((total) => {
    if (cfg.maxRequests > 0 && total >= cfg.maxRequests && !recycleAsked) {
      recycleAsked = true;
      send({ t: 'recycle', requests: total });
    }
  }, accessLog);

  let listeners: NetServer[] = [];
  let draining = false;
  let sweeper: NodeJS.Timeout | undefined;

  const stopAccepting = () => {
    // net.Server's own close: http.Server.close() would also drop idle keep-alive connections at
    // once, racing a client that is sending its next request on one of them.
    for (const s of listeners) if (s.listening) NetServer.prototype.close.call(s);
  };
  let told = false;
  /** Tells the app, once, that this worker is draining: its listeners close long-lived connections. */
  const tellApp = () => {
    if (told) return;
    told = true;
    try {
      (process as NodeJS.EventEmitter).emit(DRAIN_EVENT);
    } catch (err) {
      send({ t: 'warn', message: `a '${DRAIN_EVENT}' listener of the app threw: ${oneLine(err)}` });
    }
  };
  /** The last heartbeat's message, once the worker serves: sent once more on a drained exit. */
  let heartbeat: (() => WorkerMessage) | null = null;
  let exiting = false;
  /**
   * Drained: the counts since the last heartbeat (up to a second of requests) go out in a final
   * one, so the supervisor's totals and the metrics miss none of them; then exit.
   */
  const drainedExit = () => {
    if (exiting) return;
    exiting = true;
    if (!heartbeat || !process.connected || !process.send) process.exit(0);
    process.send(heartbeat(), undefined, {}, () => process.exit(0));
    setTimeout(() => process.exit(0), FINAL_HEARTBEAT_MS).unref();
  };
  const drain = () => {
    if (draining) return;
    draining = true;
    traffic.startDraining();
    stopAccepting();
    tellApp();
    // Done the moment the last connection closes: a WebSocket or an event stream the app ended
    // on `gsup:drain` lets the worker go at once, not after the graceful timeout.
    traffic.whenNoConnections(() => {
      if (traffic.inFlight === 0) drainedExit();
    });
    sweeper = setInterval(() => {
      // In the check phase, after this turn's poll has read what clients already sent: a request
      // waiting in the kernel while this process was starved of CPU is counted before the sweep.
      setImmediate(() => {
        if (traffic.sweepIdle(cfg.drainIdleMs) === 0 && traffic.inFlight === 0) drainedExit();
      });
    }, SWEEP_MS);
  };

  process.on('SIGTERM', drain);
  process.on('message', (raw: unknown) => {
    const msg = parseSupervisorMessage(raw);
    if (msg?.t === 'share') traffic.setShare(msg.workers, msg.peers);
    else if (msg?.t === 'reopen-logs') accessLog?.reopen();
  });
  // Quick stop: exit now. (Never SIGINT; see the top of this file.)
  process.on('SIGQUIT', () => process.exit(0));
  let orphan = false;
  const orphaned = () => {
    // The supervisor is gone (even SIGKILLed): stop serving and free the port at once.
    stopAccepting();
    tellApp();
    if (orphan) return;
    orphan = true;
    if (sweeper) clearInterval(sweeper);
    const deadline = setTimeout(() => process.exit(0), ORPHAN_GRACE_MS);
    deadline.unref();
    const poll = setInterval(() => {
      if (traffic.inFlight === 0) process.exit(0);
    }, 50);
    poll.unref();
  };
  process.on('disconnect', orphaned);
  // A channel closed while this module graph was still loading emitted 'disconnect' before the
  // listener above existed: ask the channel itself, here and again once listening.
  if (!process.connected) orphaned();

  // `app.listen(3000)` in the app: said once by the supervisor, with the port and the fix.
  watchAppListens(
    cfg.cwd,
    (l) => send({ t: 'app-listens', address: l.address, where: l.where }),
    false,
    (l, err) =>
      bootFail(
        `the app's own listen() on ${l.address} failed: ${oneLine(err)}; remove that call and export the app: gsup listens for every worker`,
        l.where,
      ),
  );
  const spec = parseAppSpec(cfg.app);
  let app: LoadedApp;
  try {
    if (typeof spec === 'string') throw new AppLoadError(spec);
    app = await loadApp(spec, cfg.cwd);
  } catch (err) {
    const e = err instanceof AppLoadError ? err : new AppLoadError(oneLine(err));
    bootFail(e.message + (e.noApp ? ownListenHint() : ''), e.where);
    return;
  }
  if (process.listenerCount('SIGINT') > 0) {
    send({
      t: 'warn',
      message:
        'the app listens for SIGINT, which switches off --trace-sigint: on a timeout gsup asks the inspector (SIGUSR1) for the stuck stack instead',
    });
  }

  const servers = buildServers(app, cfg.fds.length);
  for (const s of servers.http) traffic.attach(s);
  listeners = servers.listeners;
  traffic.countConnectionsOf(listeners);
  let addresses: string[];
  try {
    addresses = await Promise.all(
      listeners.map((s, i) => listenOn(s, cfg.fds[i] ?? -1, cfg.backlog)),
    );
  } catch (err) {
    bootFail(`listen failed: ${oneLine(err)}`, null);
    return;
  }
  if (!process.connected) {
    orphaned();
    return;
  }
  send({ t: 'ready', listening: addresses });

  // Between heartbeats, a changed connection count goes out at once (at most every 100 ms), so the
  // supervisor's keep-alive balance works on fresh counts. A steady pool sends nothing.
  let connsSent = 0;
  setInterval(() => {
    const conns = traffic.connections;
    if (conns === connsSent || draining) return;
    connsSent = conns;
    send({ t: 'conns', conns });
  }, CONNS_REPORT_MS).unref();

  const lag = lagProbe();
  heartbeat = () => ({
    t: 'hb',
    stats: {
      requests: traffic.requests,
      inFlight: traffic.inFlight,
      busyMs: Math.round(traffic.busyTotal()),
      status: traffic.status,
      latency: traffic.takeLatency(),
      lagMs: lag.take(),
      rss: process.memoryUsage.rss(),
      heapUsed: process.memoryUsage().heapUsed,
      conns: traffic.connections,
      shed: traffic.shed,
    },
  });
  const beat = heartbeat;
  setInterval(() => send(beat()), cfg.heartbeatMs).unref();
}

/** How long a drained worker waits for its final heartbeat to leave before it exits anyway. */
const FINAL_HEARTBEAT_MS = 500;

/** How often the event-loop lag probe wakes up. */
const LAG_TICK_MS = 50;

/**
 * Event-loop lag as the drift of a short timer: how late it fires. (perf_hooks'
 * monitorEventLoopDelay reports its own resolution as delay and missed a 100 ms block here.)
 */
function lagProbe(): { take(): { mean: number; max: number } } {
  let expected = performance.now() + LAG_TICK_MS;
  let sum = 0;
  let n = 0;
  let max = 0;
  setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - expected);
    sum += late;
    n++;
    if (late > max) max = late;
    expected = now + LAG_TICK_MS;
  }, LAG_TICK_MS).unref();
  return {
    take() {
      const out = {
        mean: n ? Math.round((sum / n) * 100) / 100 : 0,
        max: Math.round(max * 100) / 100,
      };
      sum = 0;
      n = 0;
      max = 0;
      return out;
    },
  };
}

main().catch((err) => bootFail(`gsup worker failed: ${oneLine(err)}`, null));
