// Runs in the supervisor: how many connections wait in a listening socket's accept queue, read
// from the kernel (Linux). For a socket in LISTEN, the rx_queue column of /proc/net/tcp and
// /proc/net/tcp6 is its accept backlog (the kernel prints sk_ack_backlog there). The socket is
// found by its inode: /proc/self/fd/FD links to `socket:[INODE]`. Unix sockets have no such
// column (/proc/net/unix shows no queue length), so their queue is unknown, said as null.

import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';

/** Bytes read per chunk; the LISTEN rows come first, so one chunk is usually all it takes. */
const CHUNK = 16 * 1024;
/** TCP_LISTEN as /proc/net/tcp writes a socket's state. */
const LISTEN = '0A';

/** The inode of the socket behind one of this process's fds, or null (not a socket, closed). */
export function socketInode(fd: number): string | null {
  try {
    return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * The accept queue of the LISTEN socket with this inode, or null when no such row exists (a
 * unix socket, not Linux, not listening). The kernel lists listening sockets before the others,
 * so reading stops at the first row in another state: under load the file holds thousands of
 * connection rows (TIME_WAIT included) that need not be read every second.
 */
export function acceptQueue(inode: string): number | null {
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const found = scan(file, inode);
    if (found !== undefined) return found;
  }
  return null;
}

/** The queue if the file lists the inode among its LISTEN rows; undefined if not found. */
function scan(file: string, inode: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(CHUNK);
    let rest = '';
    let header = true;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) return undefined;
      const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (header) {
          header = false;
          continue;
        }
        const cols = line.trim().split(/\s+/);
        // cols[3] state, cols[4] tx_queue:rx_queue (hex), cols[9] inode.
        if (cols[3] !== LISTEN) return undefined;
        if (cols[9] === inode) return Number.parseInt(cols[4]?.split(':')[1] ?? '0', 16);
      }
    }
  } finally {
    closeSync(fd);
  }
}
