// gsup, PM2 (cluster mode) and Gunicorn, each behind the same small interface: start with two
// workers on a port, reload, list worker pids, stop. Every process started here is stopped by
// stop(), and by stopAll() on any exit path.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { alive, safeKill } from '../../bench/procfs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GSUP = join(ROOT, 'bin/gsup.js');
export const PM2 = join(ROOT, 'bench/pm2/node_modules/.bin/pm2');
const DEADLINE_MS = 20_000;

const running = new Set();

/** Starts `name` (gsup, pm2 or gunicorn) serving the app in `dir` on `port`, two workers. */
export async function startServer(name, dir, port, { timeout = 30 } = {}) {
  const server = { name, dir, port, output: [], groups: [], strays: new Set() };
  running.add(server);
  if (name === 'gsup') {
    track(
      server,
      spawnLogged(server, process.execPath, [
        GSUP,
        'start',
        'app.mjs',
        '-w',
        '2',
        '-b',
        `127.0.0.1:${port}`,
        '-t',
        String(timeout),
        '--no-tui',
        '--no-control',
      ]),
    );
  } else if (name === 'gunicorn') {
    track(
      server,
      spawnLogged(server, 'gunicorn', [
        '-w',
        '2',
        '-b',
        `127.0.0.1:${port}`,
        '--timeout',
        String(timeout),
        '--graceful-timeout',
        '10',
        'app:app',
      ]),
    );
  } else if (name === 'pm2') {
    server.home = join(dir, 'pm2-home');
    mkdirSync(server.home, { recursive: true });
    await pm2(server, ['start', 'app.cjs', '-i', '2', '--name', 'cmp']);
  } else throw new Error(`unknown server ${JSON.stringify(name)}: expected gsup, pm2 or gunicorn`);
  await waitUntil(`${name} answers on port ${port}`, () => probe(port));
  // Both workers up, not just the first: a reload must find a settled pool.
  await waitUntil(
    `${name} to have two workers`,
    async () => (await workerPids(server)).length === 2,
  );
  if (name === 'gsup')
    await waitUntil('gsup: all 2 workers ready', () => lineSince(server, 0, /all 2 workers ready/));
  return server;
}

/** What the server looks like now, in a few words: its processes' states and its last error. */
export async function describe(server) {
  if (server.name === 'pm2') {
    const list = JSON.parse(await pm2(server, ['jlist'], true));
    return `workers ${list.map((p) => `${p.pm2_env?.status} (${p.pm2_env?.restart_time} restarts)`).join(', ')}`;
  }
  const master = server.groups[0];
  const error = [...server.output]
    .reverse()
    .find((l) => /failed to boot|Reason:|rolled back|Error/.test(l));
  const state = alive(master) ? `running, ${(await workerPids(server)).length} workers` : 'exited';
  return `${state}${error ? `; last error: ${clean(error)}` : ''}`;
}

// Built from a string: biome rejects control characters in regex literals.
const COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** A log line without its timestamp, level and terminal colors. */
export function clean(line) {
  return line
    .replace(COLOR, '')
    .replace(/^\[?\d{4}-\d\d-\d\d[ T][\d:.]+(?: [+-]\d{4})?\]? (?:\[[^\]]*\] )*(?:[A-Z]+ +)?/, '')
    .trim();
}

/** Reloads as each tool's docs say; resolves with what the tool reported, once it is done. */
export async function reload(server) {
  const from = server.output.length;
  if (server.name === 'pm2') {
    return pm2(server, ['reload', 'cmp'], true).then(
      (out) => clean(lastLine(out)),
      (err) => `pm2 reload failed: ${clean(lastLine(err.message))}`,
    );
  }
  const master = server.groups[0];
  safeKill(master, 'SIGHUP');
  if (server.name === 'gsup') {
    await waitUntil('gsup to finish the reload', () =>
      lineSince(server, from, /reload (done|rolled back)/),
    );
    return clean(lineSince(server, from, /reload (done|rolled back)/) ?? '');
  }
  // Gunicorn: the reload is over when two workers booted and two old ones exited, or the master quit.
  await waitUntil(
    'gunicorn to finish the reload',
    () =>
      !alive(master) ||
      (countSince(server, from, /Booting worker/) >= 2 &&
        countSince(server, from, /Worker exiting/) >= 2) ||
      countSince(server, from, /Worker failed to boot|Shutting down/) > 0,
  );
  return alive(master)
    ? 'reloaded'
    : `the master exited: ${lineSince(server, from, /Reason:|failed to boot|Shutting down/) ?? ''}`;
}

/** The live worker pids. */
export async function workerPids(server) {
  if (server.name === 'pm2') {
    const list = JSON.parse(await pm2(server, ['jlist'], true));
    return list.filter((p) => p.pm2_env?.status === 'online').map((p) => p.pid);
  }
  const master = server.groups[0];
  return childrenOf(master);
}

/** Stops the server and everything it started. */
export async function stop(server) {
  if (server.name === 'pm2') {
    await pm2(server, ['kill'], true).catch(() => '');
    const daemon = pm2Daemon(server);
    if (daemon && alive(daemon)) safeKill(daemon, 'SIGKILL');
  }
  for (const group of server.groups) safeKill(-group, 'SIGTERM');
  await waitUntil(
    `${server.name} to stop`,
    () => server.groups.every((g) => !alive(g)),
    15_000,
  ).catch(() => undefined);
  kill(server);
  running.delete(server);
}

/** Synchronous last resort for an exit path. */
export function stopAll() {
  for (const server of running) kill(server);
}

function kill(server) {
  const daemon = server.name === 'pm2' ? pm2Daemon(server) : null;
  if (daemon && alive(daemon)) safeKill(daemon, 'SIGKILL');
  for (const group of server.groups) safeKill(-group, 'SIGKILL');
  for (const pid of server.strays) if (alive(pid)) safeKill(pid, 'SIGKILL');
}

/** True once GET / answers 200 "hello". */
export function probe(port, path = '/', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body === 'hello\n'));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Polls `cond` every 50 ms until it holds; rejects naming `what` after the deadline. */
export async function waitUntil(what, cond, deadlineMs = DEADLINE_MS) {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function lineSince(server, from, re) {
  return server.output.slice(from).find((l) => re.test(l)) ?? null;
}

function countSince(server, from, re) {
  return server.output.slice(from).filter((l) => re.test(l)).length;
}

function spawnLogged(server, file, args) {
  const child = spawn(file, args, {
    cwd: server.dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = (line) => {
    server.output.push(line);
    // gsup's workers run in process groups of their own: remember them to clean up.
    for (const m of line.matchAll(/\(pid (\d+)\)/g)) server.strays.add(Number(m[1]));
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  return child;
}

function track(server, child) {
  server.groups.push(child.pid);
}

/** Runs the PM2 CLI with this server's private PM2_HOME; resolves with its stdout. */
function pm2(server, args, quiet = false) {
  if (!existsSync(PM2))
    throw new Error(`PM2 is not installed: cd bench/pm2 && npm install (looked for ${PM2})`);
  return new Promise((resolve, reject) => {
    execFile(
      PM2,
      args,
      {
        cwd: server.dir,
        env: { ...process.env, PM2_HOME: server.home, PORT: String(server.port) },
        timeout: DEADLINE_MS,
      },
      (err, stdout, stderr) => {
        if (!quiet) server.output.push(...stdout.split('\n'), ...stderr.split('\n'));
        if (err) reject(new Error(`pm2 ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** The PM2 daemon's pid, from its PM2_HOME. */
function pm2Daemon(server) {
  try {
    return Number(readFileSync(join(server.home, 'pm2.pid'), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

function lastLine(text) {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}

function childrenOf(pid) {
  return new Promise((resolve) => {
    execFile('pgrep', ['-P', String(pid)], (_err, stdout) => {
      resolve(stdout.split('\n').filter(Boolean).map(Number));
    });
  });
}
