// Runs in the supervisor: what it remembers per slot across the workers that have held it:
// failed boots in a row and the backoff they earned, restarts, and how the last one ended.

import { backoffMs } from './backoff.js';
import type { SlotRecord, WaitingSlot } from './snapshot.js';

export class Slots {
  private readonly records = new Map<number, SlotRecord>();

  /** The record of a slot, made on first use. */
  get(slot: number): SlotRecord {
    let info = this.records.get(slot);
    if (!info) {
      info = { failures: 0, retryAt: 0, restarts: 0, lastExit: null };
      this.records.set(slot, info);
    }
    return info;
  }

  /** A worker in this slot became ready: the slot's backoff is over. */
  ready(slot: number): void {
    const info = this.get(slot);
    info.failures = 0;
    info.retryAt = 0;
  }

  /** A worker left this slot; `restart` when it counts as one (a crash, a timeout, a kill). */
  exited(slot: number, lastExit: string, restart: boolean): void {
    const info = this.get(slot);
    info.lastExit = lastExit;
    if (restart) info.restarts++;
  }

  /** A boot failed in this slot: it waits longer before the next try. Returns the wait in ms. */
  bootFailed(slot: number, now: number): number {
    const info = this.get(slot);
    info.failures++;
    info.restarts++;
    const wait = backoffMs(info.failures);
    info.retryAt = now + wait;
    return wait;
  }

  /** When each slot may boot again. */
  retryAt(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [slot, info] of this.records) out.set(slot, info.retryAt);
    return out;
  }

  /** Wanted slots with no serving worker that are waiting out a backoff, for the views. */
  waiting(now: number, held: ReadonlySet<number>, target: number): WaitingSlot[] {
    const out: WaitingSlot[] = [];
    for (const [slot, info] of this.records) {
      if (!held.has(slot) && info.retryAt > now && slot <= target) {
        out.push({
          slot,
          failures: info.failures,
          retryInMs: info.retryAt - now,
          lastExit: info.lastExit,
        });
      }
    }
    return out.sort((a, b) => a.slot - b.slot);
  }
}
