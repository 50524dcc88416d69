// gsup, PM2 (cluster mode) and Gunicorn for `bench:compare`, started by the same runner and
// wrappers as every other benchmark (../process.ts, ../servers/), serving the compare app from
// a scratch folder: start with two workers on a port, list worker pids, say how it is, stop.

import { join } from 'node:path';
import { childPids, isAlive } from '../../harness/procfs.js';
import { pm2Instances } from '../pm2.js';
import { type Server, startServer } from '../process.js';
import { announced, clean } from '../reloaders.js';

const here = (path: string) => new URL(path, import.meta.url).pathname;
const GSUP = here('../../bin/gsup.js');

/** Starts `name` (gsup, pm2 or gunicorn) serving the app in `dir` on `port`, two workers. */
export function startCompared(
  name: string,
  dir: string,
  port: number,
  { timeout = 30 }: { timeout?: number } = {},
): Promise<Server> {
  const node = process.execPath;
  const wrapper = (file: string) => [node, '--import=tsx', here(`../servers/${file}`), '2'];
  const argv: Record<string, string[]> = {
    // --no-control: the comparison drives gsup by signals, as the others are driven.
    gsup: [
      node,
      GSUP,
      'start',
      // Relative, run in `dir`: the report quotes gsup's messages, which name the app as given.
      'app.mjs',
      '-w',
      '2',
      '-b',
      `127.0.0.1:${port}`,
      '-t',
      String(timeout),
      '--no-tui',
      '--no-control',
      '--log-format',
      'json',
    ],
    pm2: [...wrapper('pm2.ts'), '--app', join(dir, 'app.cjs'), '--port', String(port)],
    gunicorn: [
      ...wrapper('gunicorn.ts'),
      '--chdir',
      dir,
      '--module',
      'app:app',
      '--timeout',
      String(timeout),
      '--port',
      String(port),
    ],
  };
  const command = argv[name];
  if (!command) {
    throw new Error(`unknown server ${JSON.stringify(name)}: expected gsup, pm2 or gunicorn`);
  }
  return startServer(name, command, { cwd: dir });
}

/** The pid of the process that owns the workers: gsup itself, or Gunicorn's master. */
function masterPid(server: Server): number {
  if (server.name === 'gunicorn') return Number(announced(server, 'gunicorn master pid'));
  return server.child.pid ?? 0;
}

/** The live worker pids. */
export function workerPids(server: Server): number[] {
  if (server.name === 'gsup') return server.pool.readyPids();
  if (server.name === 'pm2') {
    const home = announced(server, 'pm2 home');
    return home
      ? pm2Instances(home)
          .filter((p) => p.status === 'online')
          .map((p) => p.pid)
      : [];
  }
  return childPids(masterPid(server));
}

/** What the server looks like now, in a few words: its processes' states and its last error. */
export function describe(server: Server): string {
  if (server.name === 'pm2') {
    const home = announced(server, 'pm2 home');
    const list = home ? pm2Instances(home) : [];
    return `workers ${list.map((p) => `${p.status} (${p.restarts} restarts)`).join(', ')}`;
  }
  const state = isAlive(masterPid(server))
    ? `running, ${workerPids(server).length} workers`
    : 'exited';
  const error = lastError(server);
  return `${state}${error ? `; last error: ${error}` : ''}`;
}

/** The server's last word on a failure: gsup's last failure event, Gunicorn's last error line. */
function lastError(server: Server): string | null {
  if (server.name === 'gsup') {
    const failure = server.pool.events.findLast(
      (e) =>
        e.type === 'worker-boot-failed' ||
        e.type === 'give-up' ||
        (e.type === 'reload-end' && !e.ok && e.outcome !== 'not-started'),
    );
    return failure?.message ?? null;
  }
  const line = server.lines.findLast((l) =>
    /failed to boot|Reason:|rolled back|Error/.test(l.text),
  );
  return line ? clean(line.text) : null;
}

/** True when the server's log shows the stack of the stuck function. */
export function showedStack(server: Server): boolean {
  if (server.name === 'gsup') {
    return server.pool.events.some(
      (e) =>
        e.type === 'worker-exit' &&
        e.cause === 'timeout' &&
        [e.where ?? '', ...(e.stack ?? [])].some((f) => f.includes('spinForeverOnPurpose')),
    );
  }
  return server.lines.some((l) => /spinForeverOnPurpose|spin_forever_on_purpose/.test(l.text));
}
