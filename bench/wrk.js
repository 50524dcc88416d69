// Runs wrk (the load generator) against 127.0.0.1 and returns its numbers.

import { execFileSync, spawn } from 'node:child_process';

const REPORT = new URL('./wrk-report.lua', import.meta.url).pathname;

/** The two kinds of load: reused connections, and a new TCP connection per request. */
export const MODES = {
  'keep-alive': [],
  close: ['-H', 'Connection: close'],
};

/** wrk's version line, or null when it is not installed. */
export function wrkVersion() {
  try {
    // `wrk -v` prints its banner and exits 1, so read the output off the error too.
    return execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: 'pipe' }).split('\n')[0];
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    return String(err.stdout ?? '').split('\n')[0] || 'wrk (unknown version)';
  }
}

/** The exact argv for one measurement. */
export function wrkCommand({ threads, connections, duration, mode, port }) {
  return [
    'wrk',
    `-t${threads}`,
    `-c${connections}`,
    `-d${duration}s`,
    ...MODES[mode],
    '-s',
    REPORT,
    `http://127.0.0.1:${port}/`,
  ];
}

/** Runs wrk; resolves with req/s, p99 (ms) and error counts. Killed if it overruns. */
export function runWrk(argv, durationSeconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    // wrk stops itself after -d; this only guards against a wedged run.
    const guard = setTimeout(() => child.kill('SIGKILL'), (durationSeconds + 15) * 1000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      running.delete(child);
      const json = /^WRK_JSON (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !json) {
        reject(new Error(`wrk failed (${signal ?? `code ${code}`}):\n${out.trim()}`));
        return;
      }
      resolve(summarise(JSON.parse(json)));
    });
  });
}

const running = new Set();

/** Stops any wrk still running (on Ctrl-C or an error elsewhere). */
export function killWrk() {
  for (const child of running) child.kill('SIGKILL');
}

function summarise(w) {
  return {
    rps: w.requests / (w.duration_us / 1e6),
    requests: w.requests,
    p50Ms: w.p50_us / 1000,
    p99Ms: w.p99_us / 1000,
    socketErrors: w.connect + w.read + w.write + w.timeout,
    non2xx: w.status,
  };
}

/**
 * Starts wrk for an open-ended run (its -d is only a ceiling); stop() ends it with SIGINT, on
 * which wrk prints its totals as usual, and resolves with them. For loads that must last as long
 * as something else takes (ten reloads), not a fixed time.
 */
export function startWrk(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      running.delete(child);
      const json = /^WRK_JSON (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !json) throw new Error(`wrk failed (code ${code}):\n${out.trim()}`);
      return summarise(JSON.parse(json));
    },
  };
}
