// Runs the real `gsup` CLI as a child process and reads its log as it arrives: typed events from
// `--log-format json` (the default here), worker output, and a text view of the same lines for
// assertions on what a person reads. Waits have generous deadlines, never fixed sleeps.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { WorkerOutput } from './log.js';
import { type EventOf, type EventType, type PoolEvent, PoolView, readLine, textOf } from './log.js';
import { killQuietly } from './procfs.js';
import { makeTempDir, removeDir } from './tmp.js';
import { DEADLINE_MS, until } from './wait.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../test/fixtures/', import.meta.url));
export const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

export interface GsupOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** The caller's fds to hand down as gsup's fd 3, 4, ... */
  fds?: number[];
  /** A `sh -c` script that ends by exec'ing "$0" "$@" (the gsup command), e.g. to set LISTEN_PID=$$. */
  shell?: string;
  /** `json` (default) adds `--log-format json` to `gsup start`; `text` is for tests of the text log itself. */
  format?: 'json' | 'text';
}

export interface Gsup {
  child: ChildProcess;
  pid: number;
  format: 'json' | 'text';
  /** Every pool event so far, typed (json format only). */
  events: PoolEvent[];
  /** Every line a worker printed so far (json format only). */
  output: WorkerOutput[];
  /** What a person would read, one entry per line: event messages, `[wSLOT PID] line`, plain lines. */
  lines: string[];
  /** The same text view without the workers' output: gsup's own lines. */
  ownLines: string[];
  /** Text view of what arrived on stdout (json lines shown as in `lines`). */
  stdout(): string;
  /** What arrived on stderr, as it came. */
  stderr(): string;
  /** Resolves with the first text line (already printed or still to come) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** How many text lines match. */
  count(pattern: RegExp): number;
  /** Resolves with the first event of `type` (from index `from` of `events`) that satisfies `predicate`. */
  waitForEvent<T extends EventType>(
    type: T,
    predicate?: (e: EventOf<T>) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<EventOf<T>>;
  /** How many events of `type` (from index `from`) satisfy `predicate`. */
  countEvents<T extends EventType>(
    type: T,
    predicate?: (e: EventOf<T>) => boolean,
    from?: number,
  ): number;
  /** Resolves with the exit code (or signal name) once gsup exits. */
  exited: Promise<number | string>;
  /** The base URL: from the `listening` event, or in the text format from `gsup status --json`. */
  url(): Promise<string>;
  /** The pool snapshot, as `gsup status --json` prints it, once the control socket answers. */
  status(): Promise<StatusSnapshot>;
  /** Worker pids that became ready and have not exited. */
  readyPids(): number[];
  /** All worker pids ever spawned. */
  allPids(): number[];
  /** The XDG_RUNTIME_DIR this gsup was given: where its control socket lives. */
  runtimeDir: string;
  /** Kills gsup and every worker it spawned, and removes its runtime dir. */
  dispose(): void;
}

/** The part of `gsup status --json` the harness reads. */
export interface StatusSnapshot {
  listening: string[];
  ready: number;
  live: number;
  workers: Array<{ slot: number; pid: number; state: string }>;
}

/**
 * Runs a command so that it dies with its caller, even when the caller is killed before cleaning
 * up: util-linux's setpriv sets the parent-death signal, then execs.
 */
export function dieWithTest(file: string, args: string[]): [string, string[]] {
  return existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', file, ...args]]
    : [file, args];
}

/** The argv with `--log-format json` added to a `start` that does not choose a format itself. */
function withFormat(args: string[], format: 'json' | 'text'): string[] {
  if (format !== 'json' || args[0] !== 'start') return args;
  if (args.some((a) => a === '--log-format' || a.startsWith('--log-format='))) return args;
  // Right after the verb: appended, it would become the value of a trailing flag missing one.
  return ['start', '--log-format', 'json', ...args.slice(1)];
}

/** Starts `gsup ARGS...` in `cwd` (default: the fixtures folder); the caller must `dispose()` it. */
export function startGsup(args: string[], opts: GsupOptions = {}): Gsup {
  const format = opts.format ?? 'json';
  const command = [process.execPath, BIN, ...withFormat(args, format)];
  const [file, argv] = opts.shell
    ? dieWithTest('/bin/sh', ['-c', opts.shell, ...command])
    : dieWithTest(process.execPath, command.slice(1));
  // Each gsup gets its own runtime dir, so control sockets (named "default") never clash.
  const runtimeDir = makeTempDir('run');
  const env: Record<string, string | undefined> = {
    ...process.env,
    XDG_RUNTIME_DIR: runtimeDir,
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(file, argv, {
    cwd: opts.cwd ?? FIXTURES,
    env,
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])],
  });
  const view = new PoolView();
  const output: WorkerOutput[] = [];
  const lines: string[] = [];
  const ownLines: string[] = [];
  const text = { out: [] as string[], err: '' };
  const partial = { out: '', err: '' };
  const waiters: Array<() => void> = [];
  const take = (stream: 'out' | 'err', raw: string) => {
    if (stream === 'err') {
      lines.push(raw);
      ownLines.push(raw);
      return;
    }
    const line = readLine(raw);
    if (line.kind === 'event') view.events.push(line.event);
    if (line.kind === 'output') output.push(line.output);
    const shown = textOf(line);
    lines.push(...shown);
    text.out.push(...shown);
    // In the text format a worker's line is known by its `[wSLOT PID]` tag after the stamp.
    const workers =
      line.kind === 'output' || (format === 'text' && /^\S+ \S+ \[w\d+ \d+/.test(raw));
    if (!workers) ownLines.push(...shown);
  };
  const onData = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const s = chunk.toString();
    if (stream === 'err') text.err += s;
    const parts = (partial[stream] + s).split('\n');
    partial[stream] = parts.pop() ?? '';
    for (const p of parts) if (p.length > 0) take(stream, p);
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData('out'));
  child.stderr?.on('data', onData('err'));
  let exitedYet = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      for (const stream of ['out', 'err'] as const)
        if (partial[stream]) take(stream, partial[stream]);
      exitedYet = true;
      resolve(code ?? signal ?? -1);
      for (const w of waiters.splice(0)) w();
    });
  });

  /** Resolves with `check`'s first defined answer, re-checked on every chunk gsup prints. */
  const waitUntil = <T>(what: string, check: () => T | undefined, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; gsup printed:\n${lines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      const again = () => {
        const found = check();
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
          return;
        }
        if (exitedYet) {
          clearTimeout(timer);
          reject(
            new Error(`gsup exited before printing ${what}; it printed:\n${lines.join('\n')}`),
          );
          return;
        }
        waiters.push(again);
      };
      again();
    });

  const needsJson = (what: string) => {
    if (format !== 'json')
      throw new Error(`${what} reads typed events: start gsup with format json`);
  };

  const waitForEvent = <T extends EventType>(
    type: T,
    predicate: (e: EventOf<T>) => boolean = () => true,
    timeoutMs = DEADLINE_MS,
    from = 0,
  ) => {
    needsJson('waitForEvent');
    return waitUntil(`a ${type} event`, () => view.find(type, predicate, from), timeoutMs);
  };

  const status = async (): Promise<StatusSnapshot> => {
    let snapshot: StatusSnapshot | null = null;
    await until('gsup status answers', async () => {
      if (exitedYet) throw new Error(`gsup exited; it printed:\n${lines.join('\n')}`);
      const r = await gsupVerb(['status', '--json'], { XDG_RUNTIME_DIR: runtimeDir });
      if (r.code === 0) snapshot = JSON.parse(r.stdout) as StatusSnapshot;
      return snapshot !== null;
    });
    return snapshot as unknown as StatusSnapshot;
  };

  const url = async (): Promise<string> => {
    if (format === 'json') return (await waitForEvent('listening')).url;
    // The text format has no events to read: the snapshot says where the pool listens.
    let first = '';
    await until('gsup listens', async () => {
      first = (await status()).listening[0] ?? '';
      return first !== '';
    });
    return first;
  };

  const dispose = () => {
    for (const pid of view.allPids()) killQuietly(pid, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    removeDir(runtimeDir);
  };

  return {
    child,
    pid: child.pid ?? -1,
    format,
    events: view.events,
    output,
    lines,
    ownLines,
    stdout: () => text.out.map((l) => `${l}\n`).join(''),
    stderr: () => text.err,
    waitFor: (pattern, timeoutMs = DEADLINE_MS, from = 0) =>
      waitUntil(
        `a line matching ${pattern}`,
        () => {
          for (const l of lines.slice(from)) {
            const m = pattern.exec(l);
            if (m) return m;
          }
          return undefined;
        },
        timeoutMs,
      ),
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
    waitForEvent,
    countEvents: (type, predicate, from) => view.count(type, predicate, from),
    exited,
    url,
    status,
    readyPids: () => {
      needsJson('readyPids');
      return view.readyPids();
    },
    allPids: () => view.allPids(),
    runtimeDir,
    dispose,
  };
}

/** Starts `gsup ARGS...` for a test: killed with everything it started, and its dir removed, at teardown. */
export function gsup(t: ExecutionContext, args: string[], opts: GsupOptions = {}): Gsup {
  const g = startGsup(args, opts);
  t.teardown(() => g.dispose());
  return g;
}

export interface VerbResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a one-shot gsup verb (status, scale, ...) to completion, e.g. against a running instance's runtime dir. */
export function gsupVerb(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd = FIXTURES,
): Promise<VerbResult> {
  return new Promise((resolve) => {
    const [file, argv] = dieWithTest(process.execPath, [BIN, ...args]);
    const child = spawn(file, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
