// `kill -9` of the supervisor, under load, in every run: no worker may be alive 3 s later (the
// issue's bound; gsup starts workers with a parent-death signal, so it is usually at once), and
// the port must be free. Every other run also has a worker whose event loop is blocked, which
// cannot notice its IPC channel closing and must still die.

import { readFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { get, isAlive, someoneListensOn, until } from '../../helpers.js';
import { trackedLoad } from '../lib/load.js';
import { startPool } from '../lib/pool.js';

/** The requirement: every worker gone within 3 s of the supervisor's SIGKILL. */
const ORPHAN_DEADLINE_MS = 3000;

export async function supervisorDeath(t: ExecutionContext, runs: number): Promise<void> {
  for (let run = 1; run <= runs; run++) {
    const hung = run % 2 === 0;
    // -t 0: no heartbeat timeout, so the hung worker stays hung until the supervisor dies.
    const p = await startPool(t, 'misbehaves-on-request.js', 2, ['-t', '0']);
    const pids = p.readyPids();
    const traffic = trackedLoad(p.base, 4);
    await until('the load is flowing', () => traffic.ok() > 50);
    if (hung) {
      get(`${p.base}/spin`).catch(() => undefined);
      await until('one worker is spinning', () => pids.some(spinning));
    }
    p.child.kill('SIGKILL');
    await p.exited;
    try {
      await until('every worker is gone', () => !pids.some(isAlive), ORPHAN_DEADLINE_MS);
    } catch {
      t.fail(
        `run ${run}${hung ? ' (one worker hung)' : ''}: alive after 3 s: ${pids.filter(isAlive).join(', ')}`,
      );
    }
    await traffic.stop();
    // Once no process holds it, nothing listens on the port (a listening socket has no TIME_WAIT).
    // A killed worker's main thread shows as a zombie before its other threads have released its
    // fds, so wait for the listener to go rather than read it at one instant.
    await until(`run ${run}: nothing listens on port ${p.port}`, () => !someoneListensOn(p.port));
    t.false(someoneListensOn(p.port), `run ${run}: something still listens on port ${p.port}`);
  }
}

/** The process is running or has used over 0.5 s of CPU: a blocked event loop. */
function spinning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[0] === 'R' || Number(f[11]) > 50;
  } catch {
    return false;
  }
}
