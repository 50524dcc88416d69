// Setup: Gunicorn (Debian's package) with N sync workers serving wsgi_hello.py, the design gsup
// follows. Gunicorn runs as a child in this wrapper's process group, so the runner's group kill
// reaches it; the wrapper also stops it when the runner's stdin pipe closes.
// Usage: node gunicorn.js N
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { announce, BACKLOG } from './announce.js';
import { freePort } from './free-port.js';

const workers = Number(process.argv[2]);
const port = await freePort();
const here = new URL('.', import.meta.url).pathname;
const argv = [
  '--workers',
  String(workers),
  '--worker-class',
  'sync',
  '--bind',
  `127.0.0.1:${port}`,
  '--backlog',
  String(BACKLOG),
  '--chdir',
  here,
  'wsgi_hello:app',
];
const child = spawn('gunicorn', argv, { stdio: ['ignore', 'inherit', 'pipe'] });
// bench/reload.js sends HUP to the master.
process.stdout.write(`gunicorn master pid ${child.pid}\n`);
const booted = new Set();
createInterface({ input: child.stderr }).on('line', (line) => {
  process.stderr.write(`${line}\n`);
  const pid = /Booting worker with pid: (\d+)/.exec(line)?.[1];
  if (pid) booted.add(pid);
  // Gunicorn prints one "Booting worker" per worker; the runner's probe then checks it serves.
  if (pid && booted.size === workers) announce(port, workers);
});
child.on('exit', (code, signal) => {
  if (code !== 0) process.stderr.write(`gunicorn exited (${signal ?? code})\n`);
  process.exit(code ?? 1);
});
// Gunicorn's graceful stop is TERM; the runner's group SIGTERM reaches it directly too.
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
