// Setup: Gunicorn (Debian's package) with N sync workers, the design gsup follows; by default it
// serves wsgi_hello.py. Gunicorn runs as a child in this wrapper's process group, so the runner's
// group kill reaches it; the wrapper also stops it when the runner's stdin pipe closes.
// Usage: node --import=tsx gunicorn.ts N [--chdir DIR] [--module M:APP] [--timeout S] [--port P]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { freePort } from '../../harness/ports.js';
import { announce, BACKLOG } from './announce.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    chdir: { type: 'string', default: new URL('.', import.meta.url).pathname },
    module: { type: 'string', default: 'wsgi_hello:app' },
    timeout: { type: 'string' },
    port: { type: 'string' },
  },
});
const workers = Number(positionals[0]);
const port = values.port ? Number(values.port) : await freePort();
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
  values.chdir,
  ...(values.timeout ? ['--timeout', values.timeout, '--graceful-timeout', '10'] : []),
  values.module,
];
const child = spawn('gunicorn', argv, { stdio: ['ignore', 'inherit', 'pipe'] });
// bench/reloaders.ts sends HUP to the master.
process.stdout.write(`gunicorn master pid ${child.pid}\n`);
const booted = new Set<string>();
if (child.stderr) {
  createInterface({ input: child.stderr }).on('line', (line: string) => {
    process.stderr.write(`${line}\n`);
    const pid = /Booting worker with pid: (\d+)/.exec(line)?.[1];
    if (pid) booted.add(pid);
    // Gunicorn prints one "Booting worker" per worker; the runner's probe then checks it serves.
    if (pid && booted.size === workers) announce(port, workers);
  });
}
child.on('exit', (code, signal) => {
  if (code !== 0) process.stderr.write(`gunicorn exited (${signal ?? code})\n`);
  process.exit(code ?? 1);
});
// Gunicorn's graceful stop is TERM; the runner's group SIGTERM reaches it directly too.
const stop = () => child.kill('SIGTERM');
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
