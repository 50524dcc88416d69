// Runs in `gsup top` and `gsup logs -f`: a control socket's subscription stream, kept across an
// upgrade of gsup itself. The old supervisor's stream says when the new one answers the control
// socket's path (`upgrade-done`); the view then subscribes there (and gsup top's keys go there).
// A connection that closes while no upgrade is under way (the stream said the instance stops, or
// nothing) ends the view at once.

import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { ConfigError } from '../config/parse.js';
import { ControlClient, NotRunningError, type RequestBody } from '../control/client.js';
import type { Reply } from '../control/protocol.js';
import type { PoolSource } from '../dashboard/dashboard.js';
import type { PoolEvent, WorkerOutput } from '../events.js';
import type { PoolSnapshot } from '../supervisor/snapshot.js';

/** How long a view looks for the new supervisor of an upgrade at the control socket's path. */
export const FOLLOW_TIMEOUT_MS = 10_000;
/** The first pause between tries to connect; doubled after each try, up to FOLLOW_MAX_PAUSE_MS. */
const FOLLOW_FIRST_PAUSE_MS = 50;
const FOLLOW_MAX_PAUSE_MS = 1_000;
/** A connect worth trying again: the socket's file is not there yet, or nothing listens on it yet. */
const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED']);

type FeedEvent = 'event' | 'output' | 'dropped' | 'joined';

/** Where the instance's control socket is, for following it across an upgrade. */
export interface Follow {
  path: string;
  name: string;
}

/** What a view opens on each supervisor it reads, and how its last line reads. */
export interface View {
  /** The stream it asks for: `subscribe`, or `logs` (the same stream, its reply the kept lines). */
  via: 'subscribe' | 'logs';
  /** How its last line starts: `gsup top`. */
  prefix: string;
  /** Its last line, after the prefix, when the connection closed and the instance stopped. */
  stopped: string;
}

/** `gsup top`: the dashboard of a running instance. */
export const TOP_VIEW: View = {
  via: 'subscribe',
  prefix: 'gsup top',
  stopped: 'the server closed the connection (it stopped)',
};

/**
 * A PoolSource fed by a control socket's subscription stream. Opened with `follow`, it moves to
 * the new supervisor of an upgrade, and `ended` says when the instance is gone. `joined` is said
 * on reaching each supervisor, with its reply to the view's `via`, before any line of its stream.
 */
export class RemoteFeed implements PoolSource {
  /** Resolves once, with the line for people, when the instance stopped. */
  readonly ended: Promise<string>;
  private readonly emitter = new EventEmitter();
  private current!: ControlClient;
  private latest!: PoolSnapshot;
  /** The current supervisor said an upgrade is under way (a stop calls an unfinished one off). */
  private upgrading = false;
  /**
   * Looking for the new supervisor of an upgrade and subscribing to it: the move, until the new
   * one joined or the move failed.
   */
  private move: Promise<void> | null = null;
  /** The view let go, or the instance is gone: nothing more to follow. */
  private over = false;
  private end!: (message: string) => void;

  /** Listen, then `start`; or `open`, which starts it at once. */
  constructor(
    private readonly follow: Follow | null = null,
    private readonly view: View = TOP_VIEW,
  ) {
    this.ended = new Promise((resolve) => {
      this.end = (message) => {
        if (this.over) return;
        this.over = true;
        resolve(message);
      };
    });
  }

  /** Subscribes on `client`; resolves once its first snapshot arrived. */
  static async open(
    client: ControlClient,
    follow: Follow | null = null,
    view: View = TOP_VIEW,
  ): Promise<RemoteFeed> {
    const feed = new RemoteFeed(follow, view);
    await feed.start(client);
    return feed;
  }

  /** Subscribes on `client`, the first connection; resolves once its first snapshot arrived. */
  async start(client: ControlClient): Promise<void> {
    await this.subscribe(client);
  }

  snapshot(): PoolSnapshot {
    return this.latest;
  }

  on(event: 'event', listener: (e: PoolEvent) => void): this;
  on(event: 'output', listener: (o: WorkerOutput) => void): this;
  /** Lines the supervisor could not send this reader (it fell behind). */
  on(event: 'dropped', listener: (lines: number) => void): this;
  on(event: 'joined', listener: (reply: unknown) => void): this;
  on(event: FeedEvent, listener: (arg: never) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off(event: 'event', listener: (e: PoolEvent) => void): this;
  off(event: 'output', listener: (o: WorkerOutput) => void): this;
  off(event: 'dropped', listener: (lines: number) => void): this;
  off(event: 'joined', listener: (reply: unknown) => void): this;
  off(event: FeedEvent, listener: (arg: never) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Sends a request on the current connection: the view's keys go wherever the stream comes from. */
  async request(body: RequestBody): Promise<Reply> {
    // A key pressed while the view moves to the new supervisor of an upgrade acts there, not on
    // the old one, which is draining and about to close.
    if (this.move) await this.move;
    return this.current.request(body);
  }

  /** Lets go of the instance (the view detached or ended). */
  close(): void {
    this.over = true;
    this.current.close();
  }

  /**
   * Subscribes on `client` and, once its reply and first snapshot are in, reads the stream from it
   * instead of the connection before. Throws ConfigError if it refuses or closes first.
   */
  private async subscribe(client: ControlClient): Promise<PoolSnapshot> {
    // The new stream's lines wait until the switch, so that none comes before `joined`; the old
    // stream is read until then. No line is on both: each supervisor sends only its own.
    let held: Array<() => void> | null = [];
    const relay = (fn: () => void) => {
      if (held) held.push(fn);
      else if (this.current === client) fn();
    };
    const first = new Promise<PoolSnapshot | null>((resolve) => {
      let fresh = true;
      client.on('snapshot', (s) => {
        if (fresh) {
          fresh = false;
          resolve(s);
          return;
        }
        // Periodic snapshots leave the events out; keep the ones the first snapshot carried.
        relay(() => {
          this.latest = s.events.length === 0 ? { ...s, events: this.latest.events } : s;
        });
      });
      client.once('close', () => {
        resolve(null);
        relay(() => this.lost());
      });
    });
    client.on('event', (e) =>
      relay(() => {
        this.emitter.emit('event', e);
        this.heard(e);
      }),
    );
    client.on('output', (o) => relay(() => this.emitter.emit('output', o)));
    client.on('dropped', (n) => relay(() => this.emitter.emit('dropped', n)));
    const r = await client.request({ cmd: this.view.via });
    if (!r.ok) throw new ConfigError(r.error);
    const snap = await first;
    if (!snap) throw new ConfigError('the connection to gsup closed before its first snapshot');
    this.current = client;
    this.latest = snap;
    // A view opened mid-upgrade learns of it from the kept events, so the close that ends the
    // upgrade is followed too.
    this.upgrading = upgradeUnderWay(snap.events);
    this.move = null;
    this.emitter.emit('joined', r.result);
    const waiting = held;
    held = null;
    for (const fn of waiting) fn();
    return snap;
  }

  /** Keeps track of what the current supervisor says about its own life. */
  private heard(e: PoolEvent): void {
    if (!this.follow || this.move || this.over) return;
    if (e.type === 'upgrade-start') this.upgrading = true;
    else if (e.type === 'upgrade-failed' || e.type === 'stop-begin') this.upgrading = false;
    // The new supervisor answers the path already; this one drains its workers and exits.
    else if (e.type === 'upgrade-done') this.moveTo(this.follow);
  }

  /** The current connection closed. */
  private lost(): void {
    if (this.move || this.over) return;
    // Gone mid-upgrade: the new supervisor may have taken over before this one could say so.
    if (this.follow && this.upgrading) this.moveTo(this.follow);
    else this.end(`${this.view.prefix}: ${this.view.stopped}`);
  }

  /** Starts moving to the new supervisor; requests made meanwhile wait for the move. */
  private moveTo(follow: Follow): void {
    const move = this.moveOn(follow).finally(() => {
      if (this.move === move) this.move = null;
    });
    this.move = move;
  }

  /** Subscribes to the supervisor that answers the path now, and reads on from there. */
  private async moveOn({ path, name }: Follow): Promise<void> {
    const from = this.current;
    const next = await connectWithin(path, name, FOLLOW_TIMEOUT_MS);
    if (!next) {
      this.end(
        `${this.view.prefix}: the instance was upgrading, but no gsup answered at ${path} within ${FOLLOW_TIMEOUT_MS / 1000}s (it stopped)`,
      );
      return;
    }
    if (this.over) {
      next.close();
      return;
    }
    let snap: PoolSnapshot;
    try {
      snap = await this.subscribe(next);
    } catch (err) {
      next.close();
      this.end(
        `${this.view.prefix}: the instance was upgrading, and the gsup at ${path} did not take this view: ${(err as Error).message} (it stopped)`,
      );
      return;
    }
    from.close();
    if (this.over) {
      next.close();
      return;
    }
    // The new supervisor's own word that it answers now, with its pid and the old one's: the
    // dashboard shows only the events after its snapshot; a `logs` reply has it among its lines.
    const tookOver = snap.events.findLast((e) => e.type === 'upgrade-took-over');
    if (tookOver && this.view.via === 'subscribe') this.emitter.emit('event', tookOver);
  }
}

/**
 * Whether a supervisor's kept events leave an upgrade of it under way: the last of those that
 * start or end one started it, or said it is done (this supervisor drains and exits next).
 */
function upgradeUnderWay(events: readonly PoolEvent[]): boolean {
  const last = events.findLast(
    (e) =>
      e.type === 'upgrade-start' ||
      e.type === 'upgrade-done' ||
      e.type === 'upgrade-failed' ||
      e.type === 'stop-begin',
  );
  return last?.type === 'upgrade-start' || last?.type === 'upgrade-done';
}

/** Connects to `path`, trying again while nothing answers there yet; null once `ms` have passed. */
async function connectWithin(
  path: string,
  name: string,
  ms: number,
): Promise<ControlClient | null> {
  const end = performance.now() + ms;
  for (let pause = FOLLOW_FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, FOLLOW_MAX_PAUSE_MS)) {
    try {
      return await ControlClient.connect(path, name);
    } catch (err) {
      const notYet = err instanceof NotRunningError && NOT_YET.has(err.code ?? '');
      if (!notYet || performance.now() + pause > end) return null;
    }
    await delay(pause);
  }
}
