// Setup: PM2 cluster mode with N instances of an app (PM2's primary accepts and hands each
// connection to an instance, Node cluster round-robin). PM2 daemonizes into its own session, out
// of reach of the runner's group kill, so this wrapper ends it with `pm2 kill` on SIGTERM or
// when the runner's stdin pipe closes.
// Usage: node --import=tsx pm2.ts N [--app FILE] [--port P]   (default: pm2-app.cjs, a free port)
import { parseArgs } from 'node:util';
import { freePort } from '../../harness/ports.js';
import { hasPm2, PM2_INSTALL, pm2, pm2Home, pm2Instances, pm2Kill } from '../pm2.js';
import { announce } from './announce.js';

if (!hasPm2()) {
  process.stderr.write(`${PM2_INSTALL}\n`);
  process.exit(1);
}
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { app: { type: 'string' }, port: { type: 'string' } },
});
const workers = Number(positionals[0]);
const home = pm2Home();
const stop = () => {
  pm2Kill(home);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

const port = values.port ? Number(values.port) : await freePort();
const app = values.app ?? new URL('./pm2-app.cjs', import.meta.url).pathname;
pm2(home, ['start', app, '--name', 'hello', '-i', String(workers)], { PORT: String(port) });
// Online means forked; the runner's probe then checks that it serves.
const deadline = Date.now() + 30_000;
while (pm2Instances(home).filter((p) => p.status === 'online').length < workers) {
  if (Date.now() > deadline) {
    process.stderr.write('pm2: instances not online within 30 s\n');
    pm2Kill(home);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
announce(port, workers);
// bench/reloaders.ts reads it to run `pm2 reload` against this daemon.
process.stdout.write(`pm2 home ${home}\n`);
