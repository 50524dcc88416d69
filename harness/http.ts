// HTTP from the harness: one GET, a keep-alive load loop, and the hello probe the benchmarks use.

import http from 'node:http';
import { DEADLINE_MS } from './wait.js';

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One HTTP GET; rejects on a network error. */
export function get(url: string, agent?: http.Agent, timeoutMs = DEADLINE_MS): Promise<Reply> {
  return request(
    url,
    { agent: agent ?? false, timeout: timeoutMs },
    `${url} within ${timeoutMs} ms`,
  );
}

/** One HTTP GET over a unix socket; rejects on a network error. */
export function getUnix(socketPath: string, path = '/'): Promise<Reply> {
  const options = { socketPath, path, agent: false as const, timeout: DEADLINE_MS };
  return request(null, { ...options, headers: { host: 'localhost' } }, `on ${socketPath}`);
}

function request(url: string | null, options: http.RequestOptions, where: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    };
    const req = url ? http.get(url, options, onResponse) : http.get(options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`no answer ${where}`)));
    req.on('error', reject);
  });
}

/** True when 127.0.0.1:`port` answers GET `path` with the hello body; false on any failure. */
export async function probe(port: number, path = '/', timeoutMs = 1000): Promise<boolean> {
  try {
    const r = await get(`http://127.0.0.1:${port}${path}`, undefined, timeoutMs);
    return r.status === 200 && r.body === 'hello\n';
  } catch {
    return false;
  }
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
