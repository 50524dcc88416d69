// Free ports for servers that cannot report the one they got (PM2, Gunicorn, the comparisons).
// The demo's own finder is the one implementation; this is where the harness takes it from.

export { freePort } from '../src/demo/free-port.js';
