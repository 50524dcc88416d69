// The same tiny app for each server, written into a scratch folder: `/` answers "hello", `/hang`
// spins forever in a function named spinForeverOnPurpose. Each can be replaced by a version that
// fails at import, to see what a reload with broken code does.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NODE_BROKEN = "throw new Error('broken on purpose');\n";

const GSUP_APP = `// gsup: a default-exported request listener; gsup listens for it.
function spinForeverOnPurpose() {
  for (;;) {}
}
export default function app(req, res) {
  if (req.url === '/hang') spinForeverOnPurpose();
  res.end('hello\\n');
}
`;

const PM2_APP = `// PM2 cluster mode: the app listens itself (PM2 runs it under node's cluster module).
const http = require('node:http');
function spinForeverOnPurpose() {
  for (;;) {}
}
http
  .createServer((req, res) => {
    if (req.url === '/hang') spinForeverOnPurpose();
    res.end('hello\\n');
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`;

const WSGI_APP = `# Gunicorn: a WSGI callable.
def spin_forever_on_purpose():
    while True:
        pass

def app(environ, start_response):
    if environ.get('PATH_INFO') == '/hang':
        spin_forever_on_purpose()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello\\n']
`;

/** Each server's app file name and its working and broken contents. */
export const APPS: Record<string, { file: string; good: string; broken: string }> = {
  gsup: { file: 'app.mjs', good: GSUP_APP, broken: NODE_BROKEN },
  pm2: { file: 'app.cjs', good: PM2_APP, broken: NODE_BROKEN },
  gunicorn: { file: 'app.py', good: WSGI_APP, broken: "raise RuntimeError('broken on purpose')\n" },
};

/** Writes the working (or broken) app for `server` into `dir`; returns its path. */
export function writeApp(dir: string, server: string, broken = false): string {
  const app = APPS[server];
  if (!app) throw new Error(`no app for ${server}`);
  const path = join(dir, app.file);
  writeFileSync(path, broken ? app.broken : app.good);
  return path;
}
