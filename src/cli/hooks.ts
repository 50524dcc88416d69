// Calls a config file's hooks on the supervisor's typed events, each with a read-only copy
// of the snapshot. A hook that throws is logged by name and the supervisor carries on; only
// onStarting can stop a start (the caller awaits it).

import type { Hooks } from '../config/load.js';
import type { HookName } from '../config/schema.js';
import type { EventType } from '../events.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/** Which event calls which hook: hooks follow the typed event stream. */
const HOOK_OF: Partial<Record<EventType, HookName>> = {
  'pool-ready': 'onReady',
  'reload-end': 'onReload',
  'worker-spawn': 'onWorkerSpawn',
  'worker-ready': 'onWorkerReady',
  'worker-exit': 'onWorkerExit',
  scale: 'onScale',
  stopped: 'onStop',
};

/** A deep-frozen copy: hooks see the pool (and under `event`, what just happened), they cannot change it. */
export function frozenSnapshot(sup: Supervisor, details: Record<string, unknown> = {}): unknown {
  const freeze = (v: unknown): unknown => {
    if (typeof v === 'object' && v !== null) {
      for (const x of Object.values(v)) freeze(x);
      Object.freeze(v);
    }
    return v;
  };
  return freeze({ ...structuredClone(sup.snapshot()), event: structuredClone(details) });
}

/** Wires hooks to the supervisor; `current()` is read each time, so a reload can swap them. */
export function attachHooks(
  sup: Supervisor,
  current: () => Hooks,
  warn: (message: string) => void,
): void {
  sup.on('event', (event) => {
    const name = HOOK_OF[event.type];
    if (!name) return;
    const hook = current()[name];
    if (!hook) return;
    const fail = (err: unknown) =>
      warn(`hook ${name} threw: ${err instanceof Error ? err.message : String(err)}; carrying on`);
    try {
      const result = hook(frozenSnapshot(sup, { ...event }));
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  });
}
