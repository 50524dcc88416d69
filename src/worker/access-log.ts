// Runs inside a worker: writes the access log itself, so the supervisor stays off the request path.
// Lines are gathered during a turn of the event loop and written once per turn in chunks of whole
// lines no larger than PIPE_BUF: a file opened for appending and a pipe shared by every worker
// (`--access-log -`, the supervisor's stdout) both take such a write whole, so lines from several
// workers never interleave. A full pipe keeps the lines for later; past a cap they are dropped and
// counted, never allowed to grow the worker's memory.

import { closeSync, openSync, writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessEntry, compileAccessFormat } from '../access-format.js';

/** Linux's PIPE_BUF: a write to a pipe of at most this many bytes is atomic. */
const CHUNK = 4096;
/** Pending bytes past which lines are dropped (a stalled reader). */
const MAX_PENDING = 4 * 1024 * 1024;
/** How soon a write that found the pipe full is tried again. */
const RETRY_MS = 20;

export type AccessTarget = { path: string } | { fd: number };

export class AccessLog {
  private fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private dropped = 0;
  private readonly format: (e: AccessEntry) => string;
  private readonly entry: Entry;

  constructor(
    private readonly target: AccessTarget,
    format: string,
    slot: number,
    private readonly warn: (message: string) => void,
  ) {
    const compiled = compileAccessFormat(format);
    // The supervisor compiled the same format before starting any worker.
    if (typeof compiled === 'string') throw new Error(compiled);
    this.format = compiled;
    this.fd = 'fd' in target ? target.fd : openSync(target.path, 'a');
    this.entry = new Entry(slot);
    process.on('exit', () => this.flush(true));
  }

  /** Logs one finished response. */
  log(res: ServerResponse, ms: number, bytesBefore: number): void {
    const line = this.format(this.entry.of(res, ms, bytesBefore));
    if (this.pendingBytes > MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush(false));
    }
  }

  /** logrotate moved the file: write what is pending to the old one, then open the path again. */
  reopen(): void {
    if (!('path' in this.target)) return;
    this.flush(true);
    const old = this.fd;
    try {
      this.fd = openSync(this.target.path, 'a');
    } catch (err) {
      this.warn(`access log: cannot reopen ${this.target.path}: ${(err as Error).message}`);
      return;
    }
    closeSync(old);
  }

  private flush(final: boolean): void {
    this.scheduled = false;
    if (this.dropped > 0 && !final) {
      const n = this.dropped;
      this.dropped = 0;
      this.warn(`access log: ${n} lines dropped: the log's reader was too slow`);
    }
    while (this.pending.length > 0) {
      let chunk = '';
      let taken = 0;
      for (const line of this.pending) {
        if (taken > 0 && chunk.length + line.length + 1 > CHUNK) break;
        chunk += `${line}\n`;
        taken++;
      }
      try {
        writeSync(this.fd, chunk);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && !final) {
          // The pipe is full: try again soon, keeping the order.
          this.scheduled = true;
          setTimeout(() => this.flush(false), RETRY_MS).unref();
          return;
        }
        if (!final) this.warn(`access log: write failed: ${(err as Error).message}`);
        this.pending = [];
        this.pendingBytes = 0;
        return;
      }
      this.pending.splice(0, taken);
      this.pendingBytes -= chunk.length;
    }
  }
}

/** One reusable view of a finished response for the formatter: nothing allocated per line. */
class Entry implements AccessEntry {
  remote = '';
  method = '';
  url = '';
  httpVersion = '';
  status = 0;
  bytes: number | null = null;
  ms = 0;
  startedAt = 0;
  readonly pid = process.pid;
  private req: IncomingMessage | null = null;
  private res: ServerResponse | null = null;

  constructor(readonly slot: number) {}

  of(res: ServerResponse, ms: number, bytesBefore: number): this {
    const req = res.req;
    this.req = req;
    this.res = res;
    this.remote = req.socket.remoteAddress ?? '';
    this.method = req.method ?? '-';
    this.url = req.url ?? '-';
    this.httpVersion = req.httpVersion;
    this.status = res.statusCode;
    this.ms = ms;
    this.startedAt = Date.now() - ms;
    this.bytes = bodyBytes(res, bytesBefore);
    return this;
  }

  requestHeader(name: string): string | undefined {
    const v = this.req?.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  responseHeader(name: string): string | undefined {
    const v = this.res?.getHeader(name);
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.join(', ') : String(v);
  }
}

/**
 * The body bytes sent: what the socket wrote during this response, less the header block. A
 * Content-Length the app set is the answer when the socket's count cannot be read (HTTP/2, TLS).
 */
function bodyBytes(res: ServerResponse, bytesBefore: number): number | null {
  const socket = res.req.socket;
  const header = (res as unknown as { _header?: string | null })._header;
  if (bytesBefore >= 0 && typeof header === 'string' && res.writableFinished) {
    const body = socket.bytesWritten - bytesBefore - Buffer.byteLength(header, 'latin1');
    if (body >= 0) return body;
  }
  const length = Number(res.getHeader('content-length'));
  return Number.isFinite(length) ? length : null;
}
