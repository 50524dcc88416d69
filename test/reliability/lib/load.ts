// Keep-alive load that remembers when each failure happened, so a test can attribute failures
// to the fault it injected (the kill just before them). Bounded: it stops when told, or at its
// own deadline if a test forgets.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { get } from '../../helpers.js';

export interface Failure {
  /** performance.now() when the request failed. */
  at: number;
  error: string;
}

export interface Traffic {
  ok(): number;
  failures: Failure[];
  stop(): Promise<{ ok: number; failed: number; failures: Failure[] }>;
}

/** A hard stop for any load a test leaves running: two minutes more than the longest test. */
const MAX_LOAD_MS = 12 * 60_000;

/** `concurrency` keep-alive connections sending GETs back to back. */
export function trackedLoad(url: string, concurrency = 8): Traffic {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let running = true;
  let ok = 0;
  const failures: Failure[] = [];
  const guard = setTimeout(() => {
    running = false;
  }, MAX_LOAD_MS);
  guard.unref();
  const loop = async () => {
    while (running) {
      try {
        const r = await get(url, agent, 10_000);
        if (r.status === 200) ok++;
        else failures.push({ at: performance.now(), error: `status ${r.status}` });
      } catch (e) {
        failures.push({ at: performance.now(), error: (e as Error).message });
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    ok: () => ok,
    failures,
    stop: async () => {
      running = false;
      clearTimeout(guard);
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed: failures.length, failures };
    },
  };
}
