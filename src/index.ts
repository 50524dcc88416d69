// The programmatic API: the CLI is a thin layer over these.

export { parseAppSpec } from './app-spec.js';
export {
  type MetricsAddress,
  MetricsServer,
  PoolMetrics,
  parseMetricsAddress,
  readiness,
  serveMetrics,
} from './metrics/index.js';
export type { ScaleRequest, ScaleResult } from './scale.js';
export { BindError, type BindSpec, formatBind, parseBind } from './supervisor/listener.js';
export type {
  PoolEvent,
  PoolSnapshot,
  PoolState,
  WaitingSlot,
  WorkerOutput,
  WorkerSnapshot,
  WorkerState,
} from './supervisor/snapshot.js';
export { type ReloadResult, Supervisor, type SupervisorOptions } from './supervisor/supervisor.js';
