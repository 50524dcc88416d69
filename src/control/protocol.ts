// The control socket's protocol: newline-delimited JSON. A client sends one request per line;
// the supervisor answers each with one reply line carrying the protocol version. `subscribe`
// turns the connection into a stream of snapshots, events and worker output. The commands and
// their arguments are rows of the command table (src/commands.ts).

import type { PoolEvent, PoolSnapshot, WorkerOutput } from '../supervisor/snapshot.js';

/** Bumped when a reply's shape changes incompatibly. */
export const PROTOCOL_VERSION = 1;
/** A request line longer than this is refused and the connection closed. */
export const MAX_LINE_BYTES = 64 * 1024;

export type Request =
  | { id?: number; cmd: 'status' }
  | { id?: number; cmd: 'scale'; to: number | string }
  | { id?: number; cmd: 'scale'; by: number }
  | { id?: number; cmd: 'reload' }
  | { id?: number; cmd: 'stop'; quick?: boolean }
  | { id?: number; cmd: 'recycle'; pid: number }
  | { id?: number; cmd: 'kill'; pid: number }
  | { id?: number; cmd: 'autoscale'; on: boolean | 'toggle' }
  | { id?: number; cmd: 'upgrade' }
  | { id?: number; cmd: 'subscribe' }
  | { id?: number; cmd: 'logs' };

export type Reply =
  | { v: number; id?: number; ok: true; result: unknown }
  | { v: number; id?: number; ok: false; error: string };

/** What a subscribed connection receives after its reply. */
export type StreamMessage =
  | { v: number; type: 'snapshot'; snapshot: PoolSnapshot }
  | { v: number; type: 'event'; event: PoolEvent }
  | { v: number; type: 'output'; output: WorkerOutput }
  // Output lines and events not sent because the subscriber was not reading.
  | { v: number; type: 'dropped'; lines: number };

/**
 * Feeds a stream's text chunks and calls `onLine` for each complete line. Returns the length of
 * the unfinished line left over, so a caller can refuse one that grows too long.
 */
export function lineReader(onLine: (line: string) => void): {
  push(chunk: string): number;
  reset(): void;
} {
  let buffer = '';
  return {
    push(chunk) {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        onLine(line);
        nl = buffer.indexOf('\n');
      }
      return buffer.length;
    },
    reset() {
      buffer = '';
    },
  };
}
