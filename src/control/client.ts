// Runs in a CLI process (gsup status, scale, reload, stop, top): talks to a running
// supervisor over its control socket.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { PoolEvent, PoolSnapshot, WorkerOutput } from '../supervisor/snapshot.js';
import { lineReader, type Reply, type Request, type StreamMessage } from './protocol.js';

/** No instance answers at that path; the message says which name and where it looked. */
export class NotRunningError extends Error {
  constructor(
    message: string,
    /** Why, in a few words: `no control socket at PATH`, `PATH is a stale socket`. */
    readonly why = '',
    /** The connect's error code (`ENOENT`, `ECONNREFUSED`, ...), if it had one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A request as a caller writes it: the client adds the id. */
export type RequestBody = Request extends infer R
  ? R extends { id?: number }
    ? Omit<R, 'id'>
    : never
  : never;

interface ClientEvents {
  snapshot: [PoolSnapshot];
  event: [PoolEvent];
  output: [WorkerOutput];
  dropped: [number];
  close: [];
}

export class ControlClient extends EventEmitter<ClientEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private closed = false;

  private constructor(private readonly conn: net.Socket) {
    super();
    conn.setEncoding('utf8');
    const reader = lineReader((line) => this.onLine(line));
    conn.on('data', (chunk: string) => reader.push(chunk));
    conn.on('error', () => undefined);
    conn.on('close', () => {
      this.closed = true;
      for (const resolve of this.pending.values()) {
        resolve({ v: 0, ok: false, error: 'the connection to gsup closed before it answered' });
      }
      this.pending.clear();
      this.emit('close');
    });
  }

  /** Connects to the instance at `path`; throws NotRunningError naming `name` and the path. */
  static connect(path: string, name: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const conn = net.connect(path);
      conn.once('connect', () => resolve(new ControlClient(conn)));
      conn.once('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'ENOENT'
            ? `no control socket at ${path}`
            : err.code === 'ECONNREFUSED'
              ? `${path} is a stale socket`
              : `${path}: ${err.message}`;
        reject(
          new NotRunningError(
            `no gsup named "${name}" is running (${why}); start one with gsup start, or pass --name / --control`,
            why,
            err.code,
          ),
        );
      });
    });
  }

  /** Sends one request and resolves with its reply; refused at once if the connection closed. */
  request(body: RequestBody): Promise<Reply> {
    if (this.closed || this.conn.destroyed) {
      return Promise.resolve({ v: 0, ok: false, error: 'the connection to gsup is closed' });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.conn.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  close(): void {
    this.conn.end();
    this.conn.destroy();
  }

  private onLine(line: string): void {
    let msg: Reply | StreamMessage;
    try {
      msg = JSON.parse(line) as Reply | StreamMessage;
    } catch {
      return;
    }
    if ('type' in msg) {
      if (msg.type === 'snapshot') this.emit('snapshot', msg.snapshot);
      else if (msg.type === 'event') this.emit('event', msg.event);
      else if (msg.type === 'output') this.emit('output', msg.output);
      else if (msg.type === 'dropped') this.emit('dropped', msg.lines);
      return;
    }
    if (typeof msg.id === 'number') {
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve?.(msg);
    }
  }
}
