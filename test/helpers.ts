// Test harness: runs the real `gsup` CLI as a child process, reads its log as it arrives, and
// waits for log lines or states with generous deadlines (never fixed sleeps).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { SupervisorOptions } from '../dist/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

/** Deadlines are generous: the machine is shared and has two cores. */
export const DEADLINE_MS = 30_000;

export interface Gsup {
  child: ChildProcess;
  pid: number;
  /** Every line gsup printed so far (stdout and stderr). */
  lines: string[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line (already printed or still to come) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** How many lines match. */
  count(pattern: RegExp): number;
  /** Resolves with the exit code (or signal name) once gsup exits. */
  exited: Promise<number | string>;
  /** The base URL from the `listening at` line. */
  url(): Promise<string>;
  /** Worker pids that logged `ready` and have not logged an exit. */
  readyPids(): number[];
  /** All worker pids ever booted. */
  allPids(): number[];
  /** The XDG_RUNTIME_DIR this gsup was given: where its control socket lives. */
  runtimeDir: string;
}

/** Starts `gsup ARGS...` in `cwd` (default: the fixtures folder). Killed with everything it started at teardown. */
export function gsup(
  t: ExecutionContext,
  args: string[],
  opts: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    /** The test's fds to hand down as gsup's fd 3, 4, ... */
    fds?: number[];
    /** A `sh -c` script that ends by exec'ing "$0" "$@" (the gsup command), e.g. to set LISTEN_PID=$$. */
    shell?: string;
  } = {},
): Gsup {
  const command = [process.execPath, BIN, ...args];
  const [file, argv] = opts.shell
    ? dieWithTest('/bin/sh', ['-c', opts.shell, ...command])
    : dieWithTest(process.execPath, command.slice(1));
  // Each gsup gets its own runtime dir, so control sockets (named "default") never clash.
  const runtimeDir = mkdtempSync(`${tmpdir()}/gsup-run-`);
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
  const lines: string[] = [];
  let out = '';
  let err = '';
  const partial = { out: '', err: '' };
  const waiters: Array<() => void> = [];
  const onData = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const text = chunk.toString();
    if (stream === 'out') out += text;
    else err += text;
    const parts = (partial[stream] + text).split('\n');
    partial[stream] = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l.length > 0));
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData('out'));
  child.stderr?.on('data', onData('err'));
  let exitedYet = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      for (const rest of [partial.out, partial.err]) if (rest) lines.push(rest);
      exitedYet = true;
      resolve(code ?? signal ?? -1);
      for (const w of waiters.splice(0)) w();
    });
  });

  const allPids = () => {
    const pids = new Set<number>();
    for (const l of lines) {
      const m = /booting worker \d+ \(pid (\d+)\)/.exec(l);
      if (m?.[1]) pids.add(Number(m[1]));
    }
    return [...pids];
  };

  t.teardown(() => {
    for (const pid of allPids()) killQuietly(pid, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const waitFor = (pattern: RegExp, timeoutMs = DEADLINE_MS, from = 0) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${pattern}; gsup printed:\n${lines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        for (const l of lines.slice(from)) {
          const m = pattern.exec(l);
          if (m) {
            clearTimeout(timer);
            resolve(m);
            return;
          }
        }
        if (exitedYet) {
          clearTimeout(timer);
          reject(
            new Error(`gsup exited before printing ${pattern}; it printed:\n${lines.join('\n')}`),
          );
          return;
        }
        waiters.push(check);
      };
      check();
    });

  return {
    child,
    pid: child.pid ?? -1,
    lines,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
    exited,
    url: async () => (await waitFor(/listening at (http:\/\/\S+)/))[1] ?? '',
    readyPids: () => {
      const ready = new Set<number>();
      for (const l of lines) {
        const r = /worker \d+ \(pid (\d+)\) ready/.exec(l);
        if (r?.[1]) ready.add(Number(r[1]));
        const e = /worker \d+ \(pid (\d+)\) (exited|killed|failed)/.exec(l);
        if (e?.[1]) ready.delete(Number(e[1]));
      }
      return [...ready];
    },
    allPids,
    runtimeDir,
  };
}

/**
 * Runs a command so that it dies with the test process, even when the test runner is killed
 * before its teardown: util-linux's setpriv sets the parent-death signal, then execs.
 */
export function dieWithTest(file: string, args: string[]): [string, string[]] {
  return existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', file, ...args]]
    : [file, args];
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** True while the process exists and is not a zombie (orphans are not reaped on this machine). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls a condition until it holds, or fails with `what` after the deadline. */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = DEADLINE_MS,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One HTTP GET; rejects on a network error. */
export function get(url: string, agent?: http.Agent, timeoutMs = DEADLINE_MS): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Keeps `concurrency` keep-alive connections busy with GETs until stop() is called; counts
 * successes and failures (a failure is a network error or a non-200 answer).
 */
export function load(
  url: string,
  concurrency = 8,
): { stop: () => Promise<{ ok: number; failed: number; errors: string[] }>; ok: () => number } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let running = true;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const loop = async () => {
    while (running) {
      try {
        const r = await get(url, agent);
        if (r.status === 200) ok++;
        else {
          failed++;
          errors.push(`status ${r.status}`);
        }
      } catch (e) {
        failed++;
        errors.push((e as Error).message);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed, errors };
    },
  };
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
): Promise<VerbResult> {
  return new Promise((resolve) => {
    const [file, argv] = dieWithTest(process.execPath, [BIN, ...args]);
    const child = spawn(file, argv, {
      cwd: FIXTURES,
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

/** Options for an in-process Supervisor (the programmatic API) on an ephemeral port, over the fixtures. */
export function poolOptions(over: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return {
    app: 'slow.js',
    binds: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    workers: 2,
    maxWorkers: 8,
    backlog: 511,
    timeout: 10,
    bootTimeout: 20,
    gracefulTimeout: 10,
    maxRequests: 0,
    maxRequestsJitter: 0,
    nodeArgs: [],
    cwd: FIXTURES,
    env: { ...process.env },
    ...over,
  };
}

/**
 * True if some socket listens on this TCP port (read from /proc/net/tcp and tcp6). Trying to bind
 * the port instead would be flaky: under other tests' load a client connection can take a freed
 * port as its source port.
 */
export function someoneListensOn(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN.
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}
