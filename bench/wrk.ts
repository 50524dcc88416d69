// Runs wrk (the load generator) against 127.0.0.1 and returns its numbers.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

const REPORT = new URL('./wrk-report.lua', import.meta.url).pathname;

/** The two kinds of load: reused connections, and a new TCP connection per request. */
export const MODES = {
  'keep-alive': [] as string[],
  close: ['-H', 'Connection: close'],
};
export type Mode = keyof typeof MODES;

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx: number;
}

/** The JSON line wrk-report.lua prints. */
interface WrkJson {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  status: number;
}

/** What a benchmark says when wrk is missing, after its own name. */
export const WRK_INSTALL = 'wrk is not installed; `apt-get install wrk` (Debian/Ubuntu)';

/** wrk's version line, or null when it is not installed. */
export function wrkVersion(): string | null {
  try {
    // `wrk -v` prints its banner and exits 1, so read the output off the error too.
    return execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: 'pipe' }).split('\n')[0] ?? '';
  } catch (err) {
    const e = err as { code?: string; stdout?: unknown };
    if (e.code === 'ENOENT') return null;
    return String(e.stdout ?? '').split('\n')[0] || 'wrk (unknown version)';
  }
}

/** The exact argv for one measurement. */
export function wrkCommand(o: {
  threads: number;
  connections: number;
  duration: number;
  mode: Mode;
  port: number | string;
}): string[] {
  return [
    'wrk',
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.duration}s`,
    ...MODES[o.mode],
    '-s',
    REPORT,
    `http://127.0.0.1:${o.port}/`,
  ];
}

const running = new Set<ChildProcess>();

/** Starts wrk with its output collected; the caller reads it once wrk exits. */
function spawnWrk(argv: string[]): { child: ChildProcess; out: () => string } {
  const [file, ...args] = argv;
  const child = spawn(file ?? 'wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { child, out: () => out };
}

/** wrk's totals from its output, or an error naming how it ended. */
function totals(out: string, how: string): WrkResult {
  const json = /^WRK_JSON (.*)$/m.exec(out)?.[1];
  if (!json) throw new Error(`wrk failed (${how}):\n${out.trim()}`);
  const w = JSON.parse(json) as WrkJson;
  return {
    rps: w.requests / (w.duration_us / 1e6),
    requests: w.requests,
    p50Ms: w.p50_us / 1000,
    p99Ms: w.p99_us / 1000,
    socketErrors: w.connect + w.read + w.write + w.timeout,
    non2xx: w.status,
  };
}

/** Runs wrk; resolves with req/s, p99 (ms) and error counts. Killed if it overruns. */
export function runWrk(argv: string[], durationSeconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const { child, out } = spawnWrk(argv);
    // wrk stops itself after -d; this only guards against a wedged run.
    const guard = setTimeout(() => child.kill('SIGKILL'), (durationSeconds + 15) * 1000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      running.delete(child);
      try {
        if (code !== 0)
          throw new Error(`wrk failed (${signal ?? `code ${code}`}):\n${out().trim()}`);
        resolve(totals(out(), `code ${code}`));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Stops any wrk still running (on Ctrl-C or an error elsewhere). */
export function killWrk(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Starts wrk for an open-ended run (its -d is only a ceiling); stop() ends it with SIGINT, on
 * which wrk prints its totals as usual, and resolves with them. For loads that must last as long
 * as something else takes (ten reloads), not a fixed time.
 */
export function startWrk(argv: string[]): { stop(): Promise<WrkResult> } {
  const { child, out } = spawnWrk(argv);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      running.delete(child);
      if (code !== 0) throw new Error(`wrk failed (code ${code}):\n${out().trim()}`);
      return totals(out(), `code ${code}`);
    },
  };
}
