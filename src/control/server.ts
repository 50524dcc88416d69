// Runs in the supervisor: the control socket, the third front door to the supervisor's commands
// (after signals and keys). This file is the transport (framing, backpressure, subscribers); what
// each command does is its row in src/commands.ts. One unix socket per instance, mode 0600, in a
// directory the user owns. Bad input gets an error reply naming the problem; nothing a client sends can crash,
// block or slow the supervisor.

import { chmodSync, lstatSync, renameSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { controlCommand, controlNames, type Outcome, runRequest } from '../commands.js';
import { suggest } from '../config/parse.js';
import type { PoolEvent, PoolSnapshot, WorkerOutput } from '../supervisor/snapshot.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { makeControlDir } from './paths.js';
import {
  lineReader,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  type Reply,
  type StreamMessage,
} from './protocol.js';

/** The control socket cannot be made; the message is one line and names the fix. */
export class ControlError extends Error {}

/** The control socket has no usable directory: a setup mistake that a restart cannot fix. */
export class ControlDirError extends ControlError {}

/** Past this much unsent data to one client, its stream drops output (and says so) instead of queueing. */
const MAX_PENDING_BYTES = 1024 * 1024;

interface Subscriber {
  conn: net.Socket;
  dropped: number;
  lagging: boolean;
  /** The newest events while it lags, sent when it has caught up. */
  held: StreamMessage[];
}

/** Events kept for a lagging subscriber; older ones are counted as dropped. */
const HELD_EVENTS = 500;

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

/**
 * Where the new gsup of an upgrade listens until it takes over: beside the real path, so that
 * taking over is one rename(2) over it and the name never stops answering.
 */
export function stagingPath(path: string): string {
  return `${path}.new`;
}

export class ControlServer {
  private server: net.Server | null = null;
  private readonly conns = new Set<net.Socket>();
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | null = null;
  /** Where our socket file is: the path, or its staging path before an upgrade's takeover. */
  private at: string;
  /** Our socket file's inode: the file at `at` is removed on close only while it is still ours. */
  private ino: number | null = null;
  private readonly onEvent = (event: PoolEvent) =>
    this.broadcast({ v: PROTOCOL_VERSION, type: 'event', event });
  private readonly onOutput = (output: WorkerOutput) =>
    this.broadcast({ v: PROTOCOL_VERSION, type: 'output', output });

  constructor(
    private readonly sup: Supervisor,
    readonly path: string,
    private readonly name: string,
    private readonly refreshMs = 1000,
  ) {
    this.at = path;
  }

  /**
   * Creates the socket. Throws ControlError for a name clash or an unsafe directory. `staging`:
   * the new gsup of an upgrade listens beside the path until `promote()`, while the old one answers.
   */
  async listen(opts: { staging?: boolean } = {}): Promise<{ replacedStale: boolean }> {
    if (opts.staging) {
      this.at = stagingPath(this.path);
      const bytes = Buffer.byteLength(this.at);
      if (bytes > MAX_UNIX_PATH_BYTES) {
        throw new ControlError(
          `cannot stage the control socket at ${this.at} for the upgrade: ${bytes} bytes, unix sockets allow ${MAX_UNIX_PATH_BYTES}; use a shorter --control`,
        );
      }
    }
    const dir = dirname(this.path);
    const unusable = makeControlDir(dir);
    if (unusable) throw new ControlDirError(unusable);
    const st = statSync(dir);
    const uid = process.getuid?.() ?? st.uid;
    if (st.uid !== uid || (st.mode & 0o002) !== 0) {
      throw new ControlError(
        `control socket directory ${dir} is ${st.uid !== uid ? `owned by uid ${st.uid}, not you (${uid})` : 'world-writable'}; use --control PATH in a private directory`,
      );
    }
    let replacedStale = false;
    const at = this.at;
    const existing = lstatOrNull(at);
    if (existing && !existing.isSocket()) {
      throw new ControlError(
        `control socket path ${at} exists and is not a socket; remove it or use --control`,
      );
    }
    if (existing) {
      const pid = await livePid(at);
      if (pid !== null) {
        throw new ControlError(
          at === this.path
            ? `another gsup named "${this.name}" is running${pid > 0 ? ` (pid ${pid})` : ''} with control socket ${this.path}; stop it, or start this one with --name`
            : `another upgrade of gsup "${this.name}" is under way${pid > 0 ? ` (new gsup pid ${pid})` : ''} at ${at}; wait for it to end`,
        );
      }
      unlinkSync(at); // stale: left by an instance that died
      replacedStale = true;
    }
    const server = net.createServer((conn) => this.serve(conn));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      // Created 0600 from the start (umask), and chmod again in case the umask was ignored.
      const umask = process.umask(0o177);
      server.once('error', (err) => {
        process.umask(umask);
        reject(new ControlError(`cannot listen on control socket ${at}: ${err.message}`));
      });
      server.listen(at, () => {
        process.umask(umask);
        chmodSync(at, 0o600);
        this.ino = Number(lstatOrNull(at)?.ino ?? -1);
        resolve();
      });
    });
    this.sup.on('event', this.onEvent);
    this.sup.on('output', this.onOutput);
    this.timer = setInterval(() => this.pushSnapshots(), this.refreshMs);
    this.timer.unref();
    return { replacedStale };
  }

  /**
   * An upgrade's takeover: our staged socket replaces the old gsup's at the path in one rename, so
   * a client connecting at any moment reaches one of the two. Throws the fs error.
   */
  promote(): void {
    if (this.at === this.path) return;
    renameSync(this.at, this.path);
    this.at = this.path;
  }

  /** Closes the socket and every connection, and removes the socket file if it is still ours. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.sup.off('event', this.onEvent);
    this.sup.off('output', this.onOutput);
    for (const c of this.conns) c.destroy();
    if (this.server) {
      const file = lstatOrNull(this.at);
      if (!file || Number(file.ino) === this.ino) {
        this.server.close();
        try {
          unlinkSync(this.at);
        } catch {
          // already gone (Node's close removes it too)
        }
      } else {
        // After an upgrade the file at the path is the new gsup's, and Node's close would unlink
        // the path by name: our listening fd is left to close with this process (about to
        // exit), and whoever still reaches it is hung up on.
        this.server.removeAllListeners('connection');
        this.server.on('connection', (conn: net.Socket) => conn.destroy());
        this.server.unref();
      }
      this.server = null;
    }
  }

  private serve(conn: net.Socket): void {
    this.conns.add(conn);
    conn.setEncoding('utf8');
    // Requests wait here while the client is not reading its replies: past MAX_PENDING_BYTES
    // unsent, the server stops reading (TCP backpressure reaches the client) instead of queueing
    // replies without limit.
    const queue: string[] = [];
    let waiting = false;
    const pump = () => {
      while (queue.length > 0 && !conn.destroyed) {
        if (conn.writableLength > MAX_PENDING_BYTES) {
          if (!waiting) {
            waiting = true;
            conn.pause();
            conn.once('drain', () => {
              waiting = false;
              conn.resume();
              pump();
            });
          }
          return;
        }
        void this.handle(conn, queue.shift() ?? '');
      }
    };
    const reader = lineReader((line) => {
      if (line.trim()) queue.push(line);
    });
    conn.on('data', (chunk: string) => {
      if (reader.push(chunk) > MAX_LINE_BYTES) {
        this.send(conn, {
          v: PROTOCOL_VERSION,
          ok: false,
          error: `request line longer than ${MAX_LINE_BYTES} bytes; closing`,
        });
        reader.reset();
        queue.length = 0;
        conn.end();
        return;
      }
      pump();
    });
    // A client that vanishes mid-stream is normal.
    conn.on('error', () => undefined);
    conn.on('close', () => {
      this.conns.delete(conn);
      for (const s of this.subscribers) if (s.conn === conn) this.subscribers.delete(s);
    });
  }

  private async handle(conn: net.Socket, line: string): Promise<void> {
    let req: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error(`expected an object like {"cmd":"status"}, got ${line.slice(0, 60)}`);
      }
      req = parsed as Record<string, unknown>;
    } catch (err) {
      this.send(conn, {
        v: PROTOCOL_VERSION,
        ok: false,
        error: `malformed JSON: ${(err as Error).message}`,
      });
      return;
    }
    const id = typeof req.id === 'number' ? req.id : undefined;
    const reply = (r: { ok: true; result: unknown } | { ok: false; error: string }) =>
      this.send(conn, { v: PROTOCOL_VERSION, ...(id === undefined ? {} : { id }), ...r } as Reply);
    const fail = (error: string) => reply({ ok: false, error });
    const cmd = req.cmd;
    const names = controlNames();
    if (typeof cmd !== 'string') return fail(`missing "cmd": one of ${names.join(', ')}`);
    const command = controlCommand(cmd);
    if (!command) {
      const guess = suggest(cmd, names);
      return fail(
        `unknown command ${JSON.stringify(cmd.slice(0, 40))}${guess ? `; did you mean ${guess}?` : ''} (commands: ${names.join(', ')})`,
      );
    }
    let outcome: Outcome;
    try {
      const pending = runRequest(command, this.sup, req);
      // Most commands answer at once: their reply is written before the next request is read.
      outcome = pending instanceof Promise ? await pending : pending;
    } catch (err) {
      return fail(`internal error: ${(err as Error).message}`);
    }
    reply(outcome);
    if (outcome.ok && command.streams) {
      this.subscribers.add({ conn, dropped: 0, lagging: false, held: [] });
      // The first snapshot carries the recent events, so a new view starts with history.
      this.send(conn, { v: PROTOCOL_VERSION, type: 'snapshot', snapshot: this.sup.snapshot() });
    }
  }

  private pushSnapshots(): void {
    if (this.subscribers.size === 0) return;
    // Events travel on their own; the periodic snapshot leaves them out to stay small.
    const snapshot: PoolSnapshot = { ...this.sup.snapshot(), events: [] };
    this.broadcast({ v: PROTOCOL_VERSION, type: 'snapshot', snapshot });
  }

  private broadcast(msg: StreamMessage): void {
    for (const s of this.subscribers) {
      // A subscriber that stopped reading (gsup top suspended with Ctrl-Z) is not written to
      // until its backlog has drained: worker output and snapshots are dropped (and counted), and
      // only the newest events are kept, so memory stays bounded and it resumes with news.
      if (s.lagging || s.conn.writableLength > MAX_PENDING_BYTES) {
        if (!s.lagging) {
          s.lagging = true;
          s.conn.once('drain', () => this.catchUp(s));
        }
        if (msg.type === 'event') {
          s.held.push(msg);
          if (s.held.length > HELD_EVENTS) {
            s.held.shift();
            s.dropped++;
          }
        } else if (msg.type === 'output') s.dropped++;
        continue;
      }
      this.send(s.conn, msg);
    }
  }

  private catchUp(s: Subscriber): void {
    s.lagging = false;
    if (s.dropped > 0)
      this.send(s.conn, { v: PROTOCOL_VERSION, type: 'dropped', lines: s.dropped });
    s.dropped = 0;
    for (const m of s.held.splice(0)) this.send(s.conn, m);
  }

  private send(conn: net.Socket, msg: Reply | StreamMessage): void {
    if (conn.destroyed || !conn.writable) return;
    conn.write(`${JSON.stringify(msg)}\n`);
  }
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** If a live gsup answers on the socket, its pid (0 if it did not say); null when nobody answers. */
function livePid(path: string): Promise<number | null> {
  return new Promise((resolve) => {
    const conn = net.connect(path);
    let buffer = '';
    const done = (pid: number | null) => {
      conn.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(0), 2000);
    conn.setEncoding('utf8');
    conn.once('connect', () => conn.write('{"cmd":"status"}\n'));
    conn.on('data', (chunk: string) => {
      buffer += chunk;
      if (!buffer.includes('\n')) return;
      clearTimeout(timer);
      try {
        const reply = JSON.parse(buffer.slice(0, buffer.indexOf('\n'))) as {
          result?: { pid?: number };
        };
        done(reply.result?.pid ?? 0);
      } catch {
        done(0);
      }
    });
    conn.once('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}
