// One request on a gsup control socket (newline-delimited JSON), as `gsup status` sends it, but
// from inside the benchmark: a verb's own start-up time must not count in what is timed.

import net from 'node:net';

/** The part of the pool snapshot the benchmarks read. */
export interface Snapshot {
  ready: number;
  live: number;
  workers: Array<{ pid: number; slot: number; requests: number }>;
}

/** Sends one request; resolves with its result, rejects with its error. */
export function controlRequest<T = unknown>(
  runtimeDir: string,
  request: { cmd: string } & Record<string, unknown>,
): Promise<T> {
  const path = `${runtimeDir}/gsup/default.sock`;
  return new Promise((resolve, reject) => {
    const conn = net.connect(path, () => conn.write(`${JSON.stringify(request)}\n`));
    let buffer = '';
    conn.setEncoding('utf8');
    conn.on('data', (c: string) => {
      buffer += c;
      const nl = buffer.indexOf('\n');
      if (nl === -1) return;
      conn.destroy();
      const reply = JSON.parse(buffer.slice(0, nl)) as { ok: boolean; result?: T; error?: string };
      if (reply.ok) resolve(reply.result as T);
      else reject(new Error(`gsup ${request.cmd}: ${reply.error}`));
    });
    conn.on('error', reject);
  });
}

/** The pool snapshot, as `gsup status --json` prints it. */
export function snapshot(runtimeDir: string): Promise<Snapshot> {
  return controlRequest<Snapshot>(runtimeDir, { cmd: 'status' });
}
