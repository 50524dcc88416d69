// Starts a server setup in its own process group, waits until it really serves, and stops it.
// Every process started here is tracked so that `killAll` can clean up on any exit path.

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { alive, safeKill } from './procfs.js';

const BOOT_DEADLINE_MS = 15_000;
const STOP_DEADLINE_MS = 10_000;
const POLL_MS = 50;

/** Servers not yet stopped: each a process group, plus pids outside it (gsup's workers). */
const live = new Set();

/**
 * Runs `argv` and resolves once it printed its `listening at` and `all N workers ready` lines
 * and answered one request with the hello body. Rejects (after cleaning up) on a deadline.
 */
export async function startServer(name, argv) {
  // A runtime dir of its own: gsup's control socket (named "default") must meet neither a
  // developer's gsup nor another run's. `gsup status` etc. reach it with the same variable.
  const runtimeDir = mkdtempSync(`${tmpdir()}/gsup-bench-run-`);
  // detached: a group of its own, so one kill reaches the primary and all its children, and a
  // Ctrl-C meant for the runner does not hit the servers before the runner can stop them.
  // stdin is a pipe the baselines watch: it closes if this runner dies without cleaning up.
  const child = spawn(argv[0], argv.slice(1), {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const server = {
    name,
    child,
    exited,
    runtimeDir,
    port: null,
    output: [],
    strays: new Set(),
    /** Called with every line the server prints, for benchmarks that time log events. */
    watchers: new Set(),
  };
  live.add(server);

  let ready = false;
  const onLine = (line) => {
    for (const watch of server.watchers) watch(line);
    server.output.push(line);
    if (server.output.length > 50) server.output.shift();
    // gsup names each worker's pid; track them since they run outside gsup's process group.
    for (const m of line.matchAll(/\(pid (\d+)\)/g)) {
      if (Number(m[1]) !== child.pid) server.strays.add(Number(m[1]));
    }
    const port = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    if (port) server.port = Number(port);
    if (/all \d+ workers ready/.test(line)) ready = true;
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);

  try {
    await until(() => ready && server.port !== null, exited, `${name}: no "workers ready" line`);
    await until(() => probe(server.port), exited, `${name}: no "hello" on port ${server.port}`);
  } catch (err) {
    await stopServer(server);
    err.message += `\n--- last output of ${name} ---\n${server.output.join('\n')}`;
    throw err;
  }
  return server;
}

/** SIGTERM to the group (gsup drains gracefully on it), then SIGKILL past the deadline. */
export async function stopServer(server) {
  const pid = server.child.pid;
  signalGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), STOP_DEADLINE_MS);
  await server.exited;
  clearTimeout(timer);
  // A process group lives on while any member does (bare/cluster children): make sure it's gone.
  signalGroup(pid, 'SIGKILL');
  // gsup's workers exit when their IPC channel closes; give them the same deadline, then force.
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while ([...server.strays].some(alive) && Date.now() < deadline) await sleep(POLL_MS);
  kill(server);
}

/** Synchronous last resort, safe from a process 'exit' handler. */
export function killAll() {
  for (const server of live) kill(server);
}

function kill(server) {
  signalGroup(server.child.pid, 'SIGKILL');
  for (const pid of server.strays) if (alive(pid)) safeKill(pid, 'SIGKILL');
  live.delete(server);
}

function signalGroup(pid, signal) {
  safeKill(-pid, signal);
}

/** Polls `check` until it holds; fails at the deadline or as soon as the process exits. */
async function until(check, exited, message) {
  const deadline = Date.now() + BOOT_DEADLINE_MS;
  let exit = null;
  exited.then((e) => {
    exit = e;
  });
  while (!(await check())) {
    if (exit) throw new Error(`${message}: it exited (${exit.signal ?? `code ${exit.code}`})`);
    if (Date.now() > deadline) throw new Error(`${message} within ${BOOT_DEADLINE_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** Resolves true once `port` answers GET / with the hello body, false on any failure. */
export function probe(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(res.statusCode === 200 && body === 'hello\n'));
    });
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
