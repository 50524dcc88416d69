// How each compared server is told to reload, how we know it finished, and what it said: gsup by
// its typed reload-end event; PM2 by its CLI returning; Gunicorn by its own log lines (it has no
// structured log). Used by `bench:reload` (counting failed requests) and `bench:compare`.

import { isAlive, killQuietly } from '../harness/procfs.js';
import { pollUntil } from '../harness/wait.js';
import { pm2 } from './pm2.js';
import { type Server, waitEvent } from './process.js';

/** How a reload went: whether the tool says it succeeded, and its words for it. */
export interface Reloaded {
  ok: boolean;
  said: string;
}

export interface Reloader {
  how: string;
  reload(server: Server, workers: number): Promise<Reloaded>;
}

/** A reload of Gunicorn ends within this; a reload of 2 workers takes about a second. */
const GUNICORN_DEADLINE_MS = 60_000;

// Built from a string: biome rejects control characters in regex literals.
const COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** A log line without its timestamp, level and terminal colors. */
export function clean(line: string): string {
  return line
    .replace(COLOR, '')
    .replace(/^\[?\d{4}-\d\d-\d\d[ T][\d:.]+(?: [+-]\d{4})?\]? (?:\[[^\]]*\] )*(?:[A-Z]+ +)?/, '')
    .trim();
}

/** The value a wrapper printed on its line `PREFIX VALUE` (pm2 home, gunicorn master pid). */
export function announced(server: Server, prefix: string): string | null {
  for (const l of server.lines)
    if (l.text.startsWith(`${prefix} `)) return l.text.slice(prefix.length + 1);
  return null;
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

export const RELOADERS: Record<string, Reloader> = {
  gsup: {
    how: 'kill -HUP <gsup pid>; wait for its reload-end event, outcome done',
    async reload(server) {
      const from = server.pool.events.length;
      killQuietly(server.child.pid ?? 0, 'SIGHUP');
      const end = await waitEvent(server, 'reload-end', (e) => e.outcome !== 'not-started', from);
      return { ok: end.outcome === 'done', said: end.message };
    },
  },
  pm2: {
    how: 'pm2 reload hello (returns when PM2 says the reload is done)',
    async reload(server) {
      const home = announced(server, 'pm2 home');
      if (!home) throw new Error('pm2: the wrapper did not say its PM2_HOME');
      try {
        return { ok: true, said: clean(lastLine(pm2(home, ['reload', 'hello']))) };
      } catch (err) {
        return { ok: false, said: `pm2 reload failed: ${clean(lastLine((err as Error).message))}` };
      }
    },
  },
  gunicorn: {
    how: 'kill -HUP <master pid>; wait for N "Booting worker" and N "Worker exiting" lines',
    async reload(server, workers) {
      const master = Number(announced(server, 'gunicorn master pid'));
      const from = server.lines.length;
      const since = (re: RegExp) => server.lines.slice(from).filter((l) => re.test(l.text));
      const failed = /Worker failed to boot|Shutting down|Reason:/;
      killQuietly(master, 'SIGHUP');
      // Over when N new workers booted and N old ones exited, or when it failed or quit.
      await pollUntil(
        'gunicorn to finish the reload',
        () =>
          !isAlive(master) ||
          since(failed).length > 0 ||
          (since(/Booting worker with pid/).length >= workers &&
            since(/Worker exiting/).length >= workers),
        { deadlineMs: GUNICORN_DEADLINE_MS, intervalMs: 5 },
      );
      const failure = since(failed)[0]?.text;
      if (!isAlive(master))
        return { ok: false, said: `the master exited: ${clean(failure ?? '')}` };
      return failure ? { ok: false, said: clean(failure) } : { ok: true, said: 'reloaded' };
    },
  },
};
