// Runs in the supervisor: keep-alive balance. On a shared socket the kernel hands a new connection
// to whichever worker is first in accept(), so a client that opens its keep-alive pool all at once
// can land most of it on one worker, where it stays. Workers report their open connections in
// every heartbeat; the supervisor tells each ready worker how many workers share the pool and how
// many connections the others hold. A worker above its share, ceil(pool / workers), answers
// `Connection: close` at the end of a response (src/worker/traffic.ts); the client reconnects and
// the kernel may land the new connection elsewhere, until every worker holds its share.

import type { SupervisorMessage } from '../ipc.js';

/** What one worker is told: ready workers (0: balance off) and the others' open connections. */
export type Share = Extract<SupervisorMessage, { t: 'share' }>;

/**
 * The share message of each worker, in the order given: `conns` are the ready workers' open
 * connections as last reported. Pure; unit-tested.
 */
export function connectionShares(conns: readonly number[], on: boolean): Share[] {
  const total = conns.reduce((a, b) => a + b, 0);
  const workers = on ? conns.length : 0;
  return conns.map((own) => ({ t: 'share', workers, peers: on ? total - own : 0 }));
}

/** A ready worker as the balance sees it. */
export interface BalancedWorker {
  id: number;
  send(msg: SupervisorMessage): void;
}

/**
 * Keeps each worker's last reported count (heartbeats, and `conns` messages between them when
 * the count changed) and sends each ready worker its share after each of its reports, and
 * whenever the share changes. Each share lets a worker close what it holds above it, once: a
 * worker whose shed connections came back to it sheds again after its next report, not before.
 */
export class Balancer {
  private readonly told = new Map<number, string>();
  private readonly reports = new Map<number, { conns: number; seq: number }>();
  private seq = 0;

  /** A worker's open connections, as it just reported them. */
  report(id: number, conns: number): void {
    this.reports.set(id, { conns, seq: ++this.seq });
  }

  update(workers: readonly BalancedWorker[], on: boolean): void {
    const shares = connectionShares(
      workers.map((w) => this.reports.get(w.id)?.conns ?? 0),
      on,
    );
    const seen = new Set<number>();
    workers.forEach((w, i) => {
      const share = shares[i];
      if (!share) return;
      seen.add(w.id);
      const key = `${share.workers}/${share.peers}/${this.reports.get(w.id)?.seq}`;
      if (this.told.get(w.id) === key) return;
      this.told.set(w.id, key);
      w.send(share);
    });
    for (const id of this.told.keys()) if (!seen.has(id)) this.told.delete(id);
    for (const id of this.reports.keys()) if (!seen.has(id)) this.reports.delete(id);
  }
}
