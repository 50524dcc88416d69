// --metrics: Prometheus metrics and health endpoints, served by the supervisor process from its
// model of the pool. Loaded only when asked for, so a supervisor without it never loads prom-client.

import type { BindSpec } from '../supervisor/listener.js';
import { parseMetricsAddress } from './address.js';
import type { MetricsSource } from './registry.js';
import { MetricsError, MetricsServer } from './server.js';

export { type MetricsAddress, parseMetricsAddress } from './address.js';
export { EXIT_REASONS, LATENCY_BOUNDS_S, type MetricsSource, PoolMetrics } from './registry.js';
export { MetricsError, MetricsServer, readiness } from './server.js';

/** What `serveMetrics` needs of a supervisor: its model, its events, and a way to add one. */
export interface MetricsHost extends MetricsSource {
  record(body: { type: 'metrics-listening'; url: string }): unknown;
}

/**
 * Serves the metrics of `sup` at `address` (a --metrics value) and records the `metrics-listening`
 * event. Call it before `sup.start()`, so every worker start and exit is counted. Returns the
 * server, or a one-line error.
 */
export async function serveMetrics(
  sup: MetricsHost,
  address: string,
  binds: readonly BindSpec[] = [],
): Promise<MetricsServer | string> {
  const parsed = parseMetricsAddress(address, binds);
  if (typeof parsed === 'string') return parsed;
  const server = new MetricsServer(sup, parsed);
  try {
    const url = await server.listen();
    sup.record({ type: 'metrics-listening', url });
  } catch (err) {
    server.close();
    if (err instanceof MetricsError) return err.message;
    throw err;
  }
  return server;
}
