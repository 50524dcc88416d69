// What the kernel says about a process, read from /proc (Linux): open fds, RSS, and which TCP
// connections it holds. Reading /proc costs the measured process nothing.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** How many fds the process has open. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** VmRSS in kB. */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Socket inodes of the ESTABLISHED IPv4 TCP connections whose local port is `port`. */
function establishedOn(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // f[1] local address:port, f[3] state (01 = ESTABLISHED), f[9] inode.
    if (f[1]?.endsWith(`:${hex}`) && f[3] === '01' && f[9]) inodes.add(f[9]);
  }
  return inodes;
}

/**
 * How many of the server-side connections on `port` each pid holds. A process that is gone
 * counts 0. This is how a test knows which worker owns which keep-alive connection.
 */
export function connectionsByPid(pids: number[], port: number): Map<number, number> {
  const established = establishedOn(port);
  const out = new Map<number, number>();
  for (const pid of pids) {
    let n = 0;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m?.[1] && established.has(m[1])) n++;
        } catch {
          // the fd closed while we looked
        }
      }
    } catch {
      // the process is gone
    }
    out.set(pid, n);
  }
  return out;
}
