// A pinned wall clock for the screenshot run. The dashboard prints wall-clock times (log lines,
// key echoes); on a real clock every run would differ. The supervisor uses Date only for display
// (intervals run on the monotonic clock, src/clock.ts), so pinning Date changes what is shown,
// not how the pool behaves. The script moves the clock on in whole seconds, at its own steps.

/** 12:00:00 UTC on the first day of 2026: any fixed moment would do. */
const EPOCH = Date.UTC(2026, 0, 1, 12, 0, 0);

let now = EPOCH;
let installed = false;

/** Replaces Date.now and `new Date()` with the pinned clock, for the rest of this process. */
export function pinClock(): void {
  if (installed) return;
  installed = true;
  const Real = Date;
  class PinnedDate extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now);
      else super(...(args as [string]));
    }
    static override now(): number {
      return now;
    }
  }
  globalThis.Date = PinnedDate as DateConstructor;
}

/** Puts the pinned clock back at its epoch: each scenario's pool starts at 12:00:00. */
export function resetClock(): void {
  now = EPOCH;
}

/** Moves the pinned clock on. */
export function advance(seconds: number): void {
  now += seconds * 1000;
}

/** Milliseconds since the pinned epoch. */
export function elapsedMs(): number {
  return now - EPOCH;
}
