// A view of the pool for headless runs: one line per event and per line of worker output, to
// stdout or a log file. Text for people (escape codes only on a terminal), or JSON: one object
// per line carrying each typed event whole, for programs (log shippers, the tests, the benchmarks).

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { PoolEvent, WorkerOutput } from '../events.js';

export type LogFormat = 'text' | 'json';

/** Worker output is dropped (and the drop reported) past this much unwritten log. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

const COLORS = { info: '', warn: '\x1b[33m', error: '\x1b[31m', dim: '\x1b[2m', reset: '\x1b[0m' };

export class Logger {
  private out: Writable;
  private file: WriteStream | null = null;
  private dropped = 0;
  private readonly color: boolean;

  constructor(
    private readonly logFile: string | null,
    stdout: NodeJS.WriteStream = process.stdout,
    private readonly format: LogFormat = 'text',
  ) {
    this.out = stdout;
    // `gsup start | head` closes our stdout: losing the log must not take the pool down.
    stdout.on('error', () => undefined);
    if (logFile) this.out = this.file = this.openFile(logFile);
    this.color = !logFile && stdout.isTTY === true;
  }

  /** A lifecycle event from the supervisor. */
  event(e: PoolEvent): void {
    if (this.format === 'json') {
      const { at, level, type, message, ...details } = e;
      this.write(JSON.stringify({ time: iso(at), level, type, message, ...details }));
      return;
    }
    if (e.level === 'debug') return;
    const level = e.level.toUpperCase().padEnd(5);
    const text = `${stamp(e.at)} [gsup] ${level} ${e.message}`;
    this.write(this.paint(e.level, text));
    for (const frame of e.stack ?? [])
      this.write(this.paint(e.level, `${stamp(e.at)} [gsup] ${level}     at ${frame}`));
  }

  /** A line a worker wrote (`at`: when, for lines read back later by gsup logs). */
  output(o: WorkerOutput, at = Date.now()): void {
    if (this.out.writableLength > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.line('warn', `dropped ${n} lines of worker output: the log could not keep up`);
    }
    if (this.format === 'json') {
      this.write(JSON.stringify({ time: iso(at), level: 'info', type: 'output', ...o }));
      return;
    }
    const tag = `[w${o.slot} ${o.pid}${o.stream === 'stderr' ? ' err' : ''}]`;
    this.write(`${stamp(at)} ${this.color ? `${COLORS.dim}${tag}${COLORS.reset}` : tag} ${o.line}`);
  }

  /** A plain line from gsup itself (not a pool event). */
  line(level: 'info' | 'warn' | 'error', message: string): void {
    if (this.format === 'json') {
      this.write(JSON.stringify({ time: iso(Date.now()), level, type: 'log', message }));
      return;
    }
    this.write(
      this.paint(level, `${stamp(Date.now())} [gsup] ${level.toUpperCase().padEnd(5)} ${message}`),
    );
  }

  /** SIGUSR1: reopen the log file (after logrotate moved it). */
  reopen(): void {
    if (!this.logFile || !this.file) return;
    const old = this.file;
    this.out = this.file = this.openFile(this.logFile);
    old.end();
    this.line('info', `reopened log file ${this.logFile}`);
  }

  /** Resolves once everything written so far is flushed. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.file) this.file.end(resolve);
      else if (this.out.writableLength === 0) resolve();
      else this.out.once('drain', resolve);
    });
  }

  private openFile(path: string): WriteStream {
    const s = createWriteStream(path, { flags: 'a' });
    s.on('error', (err) =>
      process.stderr.write(`gsup: cannot write the log file ${path}: ${err.message}\n`),
    );
    return s;
  }

  private paint(level: 'info' | 'warn' | 'error', text: string): string {
    return this.color && COLORS[level] ? `${COLORS[level]}${text}${COLORS.reset}` : text;
  }

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}
