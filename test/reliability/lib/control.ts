// Raw bytes on a gsup control socket, and the reply lines that come back.

import net from 'node:net';

/**
 * Connects, writes `payload`, and resolves with the reply lines once `count` arrived, the server
 * closed, or `idleMs` passed without data. Never rejects on a reset: a refusal is an answer too.
 */
export function raw(
  path: string,
  payload: string | Buffer,
  count: number,
  idleMs = 5000,
): Promise<string[]> {
  return new Promise((resolve) => {
    const conn = net.connect(path);
    let buffer = '';
    const lines: string[] = [];
    const done = () => {
      clearTimeout(timer);
      conn.destroy();
      resolve(lines);
    };
    let timer = setTimeout(done, idleMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(payload));
    conn.on('data', (c: string) => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
      buffer += c;
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      if (lines.length >= count) done();
    });
    conn.on('close', done);
    conn.on('error', done);
  });
}

export function controlPath(runtimeDir: string, name = 'default'): string {
  return `${runtimeDir}/gsup/${name}.sock`;
}
