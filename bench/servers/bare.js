// Setup 3: gsup's process model with nothing else: a primary binds one socket without listening,
// and N children listen and accept on their inherited copy. No IPC, heartbeats, counters or
// respawns, so this is the ceiling gsup's design can reach.
// Usage: node bare.js N [SHARE]   (SHARE: see bare-worker.js, the `bare-even` setup)
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { getSystemErrorName } from 'node:util';
import { announce, exitWithParent } from './announce.js';

exitWithParent();
const workers = Number(process.argv[2]);
const env = process.argv[3] ? { ...process.env, BARE_SHARE: process.argv[3] } : process.env;
// Node's bind-without-listen (what cluster's SCHED_NONE and gsup use): returns an errno on error.
const handle = net._createServerHandle('127.0.0.1', 0, 4);
if (typeof handle === 'number') {
  console.error(`bare: cannot bind 127.0.0.1:0 (${getSystemErrorName(handle)})`);
  process.exit(1);
}
const address = {};
handle.getsockname(address);

const worker = new URL('./bare-worker.js', import.meta.url).pathname;
let ready = 0;
for (let i = 0; i < workers; i++) {
  // The socket lands on the child's fd 3; stdout is piped only to hear the child's "ready",
  // stdin so that the child dies with this primary.
  // detached, as gsup spawns its workers: the same sessions, so the same CPU shares under
  // autogroup scheduling (bench/fairness.ts).
  const child = spawn(process.execPath, [worker], {
    stdio: ['pipe', 'pipe', 'inherit', handle.fd],
    detached: true,
    env,
  });
  createInterface({ input: child.stdout }).once('line', () => {
    ready++;
    if (ready === workers) announce(address.port, workers);
  });
  child.on('exit', (code, signal) => {
    console.error(`bare worker ${child.pid} died (${signal ?? code})`);
    process.exit(1);
  });
}
// `handle` stays referenced for the primary's whole life, so the kernel queue outlives workers.
