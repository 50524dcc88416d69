// Calls a config file's hooks on the typed events they follow (HOOKS in the schema), each with a
// read-only copy of the snapshot. A hook that throws is logged by name and the supervisor carries
// on; only onStarting can stop a start (the caller awaits it).

import type { Hooks } from '../config/load.js';
import { HOOKS, type HookName } from '../config/schema.js';
import type { EventType } from '../events.js';
import type { Supervisor } from '../supervisor/supervisor.js';

/** The hook that follows a typed event, from the hooks' schema entries. */
export function hookFor(type: EventType): HookName | null {
  return HOOKS.find((h) => h.event === type)?.name ?? null;
}

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
    const name = hookFor(event.type);
    const hook = name ? current()[name] : undefined;
    if (!name || !hook) return;
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
