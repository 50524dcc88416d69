// The CPU-bound app of `npm run bench:autoscale`: each request spins BURN_MS (default 10) ms of
// CPU, then answers like hello.js (the bench harness probes for its body).
import { performance } from 'node:perf_hooks';

const burnMs = Number(process.env.BURN_MS ?? 10);

export default function burn(_req, res) {
  const end = performance.now() + burnMs;
  while (performance.now() < end) {
    // spin
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello\n');
}
