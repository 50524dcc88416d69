// The app `gsup demo` runs: a handful of routes that make every column of the dashboard move.
//   /          fast: answers at once
//   /slow      answers after ?ms=N milliseconds (default 300), after a little CPU work
//   /error     a 500, as a failing dependency would cause
//   /hang      spins forever on purpose: gsup's timeout kills the worker and logs this stack;
//              /hang?slot=N hangs only the worker in slot N (the others answer 409), so a
//              script can choose which one
// A plain request listener, the shape `http.createServer` and Express take.

import { createHash } from 'node:crypto';

// Set by `gsup demo` so the hint below can name the real address.
const url = process.env.GSUP_DEMO_URL ?? '';
// DEMO_BOOT_MS makes each worker take that long to boot, so a reload is visibly in progress.
const bootMs = Number(process.env.DEMO_BOOT_MS ?? 0);
if (bootMs > 0) await new Promise((resolve) => setTimeout(resolve, bootMs));

// One worker says how to try the timeout, so the hint is in the log once, not once per worker.
if (url && process.env.GSUP_SLOT === '1') {
  console.log(`demo: curl ${url}/hang hangs a worker; watch gsup kill it and log the stack`);
}

export default function demo(req, res) {
  const { pathname, searchParams } = new URL(req.url ?? '/', 'http://demo');
  if (pathname === '/slow') {
    burnCpu(2);
    const ms = Math.min(10_000, Math.max(0, Number(searchParams.get('ms') ?? 300)));
    setTimeout(() => send(res, 200, `slow (${ms} ms) from worker ${process.pid}\n`), ms);
    return;
  }
  if (pathname === '/error') {
    send(res, 500, 'the demo failed this request on purpose\n');
    return;
  }
  if (pathname === '/hang') {
    const slot = searchParams.get('slot');
    if (slot !== null && slot !== process.env.GSUP_SLOT) {
      send(res, 409, `this is worker ${process.env.GSUP_SLOT}, not ${slot}: try again\n`);
      return;
    }
    console.log(`GET /hang: worker ${process.pid} is spinning on purpose`);
    spinForeverOnPurpose();
  }
  send(res, 200, `hello from worker ${process.pid}\n`);
}

function send(res, status, body) {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain');
  res.end(body);
}

/** Hashes for about `ms` milliseconds, so the CPU column is not always zero. */
function burnCpu(ms) {
  const end = performance.now() + ms;
  let h = 'demo';
  while (performance.now() < end) h = createHash('sha1').update(h).digest('hex');
  return h;
}

/** Never yields to the event loop: no more heartbeats, so gsup's timeout fires. */
function spinForeverOnPurpose() {
  for (;;) {
    // nothing: this is the line the timeout's stack points at
  }
}
