// Runs in the new supervisor of an upgrade (the protocol of both sides is in
// src/supervisor/upgrade.ts): tells the old supervisor, over the IPC channel it was started with,
// when its workers are all ready or why it cannot serve; takes over the control socket and the
// pidfile when told; and stops if the old one vanishes before handing over, so no half-started
// gsup is left behind.

import type { Supervisor } from '../supervisor/supervisor.js';
import { type Inheritance, type SuccessorMessage, takeInheritance } from '../supervisor/upgrade.js';

/** The old supervisor's pid while this process is an upgrade's new one; null otherwise. */
let predecessor: number | null = null;

/** What an upgrade handed this process (and removes it from the environment), or a one-line error. */
export function readInheritance(env: NodeJS.ProcessEnv): Inheritance | null | string {
  const inheritance = takeInheritance(env);
  if (inheritance && typeof inheritance === 'object') predecessor = inheritance.from;
  return inheritance;
}

function send(message: SuccessorMessage): void {
  if (predecessor === null || !process.connected) return;
  try {
    process.send?.(message);
  } catch {
    // the old supervisor is gone; its exit says the rest
  }
}

/** Tells the old supervisor why this new one cannot start (nothing when this is no upgrade). */
export function tellPredecessor(reason: string): void {
  send({ t: 'failed', reason: `the new gsup could not start: ${reason}` });
}

/**
 * Plays the new supervisor's part. `takeOver` moves the control socket and the pidfile to this
 * process and returns null, or says why it could not.
 */
export function actAsSuccessor(sup: Supervisor, from: number, takeOver: () => string | null): void {
  let promoted = false;
  sup.on('event', (e) => {
    if (promoted) return;
    if (e.type === 'pool-ready') send({ t: 'ready' });
    else if (e.type === 'worker-boot-failed') send({ t: 'boot-error', error: e.error });
    else if (e.type === 'give-up') {
      send({ t: 'failed', reason: `the new gsup's workers could not boot: ${e.error}` });
    }
  });
  process.on('message', (raw: unknown) => {
    if (promoted || (raw as { t?: unknown } | null)?.t !== 'take-over') return;
    const error = takeOver();
    if (error) {
      send({ t: 'failed', reason: error });
      void sup.stop({ quick: true });
      return;
    }
    promoted = true;
    predecessor = null;
    // Sent directly: `send` goes quiet once promoted.
    if (process.connected) process.send?.({ t: 'took-over' } satisfies SuccessorMessage);
  });
  process.once('disconnect', () => {
    if (promoted) return;
    sup.warn(`upgrade: the old gsup (pid ${from}) went away before handing over; stopping`);
    void sup.stop({ quick: true });
  });
}
