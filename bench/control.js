// One request on a gsup control socket (newline-delimited JSON), as `gsup status` sends it, but
// from inside the benchmark: a verb's own start-up time must not count in what is timed.

import net from 'node:net';

export function controlRequest(runtimeDir, request) {
  const path = `${runtimeDir}/gsup/default.sock`;
  return new Promise((resolve, reject) => {
    const conn = net.connect(path, () => conn.write(`${JSON.stringify(request)}\n`));
    let buffer = '';
    conn.setEncoding('utf8');
    conn.on('data', (c) => {
      buffer += c;
      const nl = buffer.indexOf('\n');
      if (nl === -1) return;
      conn.destroy();
      const reply = JSON.parse(buffer.slice(0, nl));
      if (reply.ok) resolve(reply.result);
      else reject(new Error(`gsup ${request.cmd}: ${reply.error}`));
    });
    conn.on('error', reject);
  });
}

/** The pool snapshot, as `gsup status --json` prints it. */
export function snapshot(runtimeDir) {
  return controlRequest(runtimeDir, { cmd: 'status' });
}
