// The demo's load generator: a gentle, bounded stream of requests to the demo app, from inside
// the supervisor process, so the dashboard shows live traffic without a separate tool.

import http from 'node:http';

/** The highest rate the demo accepts: gentle on a laptop, and never a load test. */
export const MAX_RATE = 50;
/** Requests allowed in flight at once; a tick is skipped while this many are outstanding. */
const MAX_IN_FLIGHT = 8;
/** A request that has not answered by then is given up (a hung worker is killed sooner). */
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * One cycle of 20 requests: mostly fast, some slow, one 500. A fixed cycle, not random, so
 * every run looks alike and each route is reached within a few seconds.
 */
export const CYCLE: readonly string[] = [
  '/',
  '/',
  '/slow?ms=120',
  '/',
  '/',
  '/',
  '/slow?ms=450',
  '/',
  '/',
  '/error',
  '/',
  '/slow?ms=250',
  '/',
  '/',
  '/',
  '/slow?ms=700',
  '/',
  '/',
  '/slow?ms=60',
  '/',
];

export interface LoadStats {
  sent: number;
  answered: number;
  /** Network errors: refused before a worker listens, reset when a hung worker is killed. */
  failed: number;
}

/** Hosts the generator may talk to: the demo is loopback only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export class DemoLoad {
  private readonly agent = new http.Agent({
    keepAlive: true,
    maxSockets: MAX_IN_FLIGHT,
    scheduling: 'fifo',
  });
  private readonly base: URL;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private next = 0;
  private readonly idle: Array<() => void> = [];
  readonly stats: LoadStats = { sent: 0, answered: 0, failed: 0 };

  /** `rate`: requests per second, 1 to MAX_RATE. Throws on a non-loopback URL or a bad rate. */
  constructor(
    url: string,
    private readonly rate: number,
  ) {
    this.base = new URL(url);
    if (!isLoopback(this.base.hostname)) {
      throw new Error(
        `demo load: only loopback addresses are allowed, got ${JSON.stringify(this.base.hostname)}`,
      );
    }
    if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE) {
      throw new Error(`demo load: expected a rate from 1 to ${MAX_RATE} per second, got ${rate}`);
    }
  }

  /** Starts sending; failures (no worker listening yet, a worker killed) are counted, not fatal. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.round(1000 / this.rate));
  }

  /** Stops sending, waits for the requests in flight, and closes the connections. */
  async stop(): Promise<LoadStats> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // The pool is stopping too, so in-flight requests end soon; the agent's destroy ends the rest.
    this.agent.destroy();
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    return this.stats;
  }

  private tick(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    const at = this.next % CYCLE.length;
    this.next++;
    // The cycle's last request closes its connection: the next one is accepted by whichever
    // worker the kernel picks, so over time every worker gets traffic, not just the first two.
    this.send(CYCLE[at] ?? '/', at === CYCLE.length - 1);
  }

  private send(path: string, close: boolean): void {
    this.inFlight++;
    this.stats.sent++;
    let finished = false;
    const done = (ok: boolean) => {
      // A reset mid-answer can report on both the request and the response: count it once.
      if (finished) return;
      finished = true;
      if (ok) this.stats.answered++;
      else this.stats.failed++;
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    };
    const req = http.get(
      new URL(path, this.base),
      {
        agent: this.agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: close ? { connection: 'close' } : {},
      },
      (res) => {
        res.resume();
        res.once('end', () => done(true));
        res.once('error', () => done(false));
      },
    );
    req.once('timeout', () => req.destroy());
    req.once('error', () => done(false));
  }
}
