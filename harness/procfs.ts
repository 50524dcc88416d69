// What the kernel says about a process, read straight from /proc (Linux only): state, CPU time,
// RSS, fds, children and TCP sockets. No `ps` or pidusage, so measuring costs the process nothing.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/PID/stat (usually 100). */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * The fields of /proc/PID/stat after the command name. The name is in parentheses and may itself
 * contain spaces and ')' (gsup sets its process.title), so split after the last ')'.
 * Index 0 is field 3 (state) of proc(5); null when the process is gone.
 */
function statFields(pid: number | string): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** True while the process exists and is not a zombie (PID 1 here does not reap orphans, so `kill -0` would lie). */
export function isAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** utime + stime of the process itself (not its children), in clock ticks; null when gone. */
export function cpuTicks(pid: number): number | null {
  const f = statFields(pid);
  // proc(5): utime is field 14, stime field 15; f[0] is field 3.
  return f ? Number(f[11]) + Number(f[12]) : null;
}

/** cutime + cstime of this process: the CPU of children it has waited for (each wrk run). */
export function reapedChildrenTicks(): number {
  const f = statFields('self');
  // proc(5): cutime is field 16, cstime field 17; f[0] is field 3.
  return f ? Number(f[13]) + Number(f[14]) : 0;
}

/** Voluntary and involuntary context switches of a process so far. */
export function contextSwitches(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1];
    const n = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1];
    return Number(v ?? 0) + Number(n ?? 0);
  } catch {
    return 0;
  }
}

/** All CPUs' ticks so far, and their idle (and iowait) part, from /proc/stat. */
export function machineTicks(): { total: number; idle: number } {
  // user, nice, system, idle, iowait, irq, softirq, steal (guest time is already in user).
  const cpu =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1, 9) ?? [];
  const n = cpu.map(Number);
  return { total: n.reduce((a, b) => a + b, 0), idle: (n[3] ?? 0) + (n[4] ?? 0) };
}

/** VmRSS in kB from /proc/PID/status; null when gone. */
export function rssKb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** How many fds the process has open. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Pids whose parent is `pid` (field 4 of stat), found by scanning /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f && Number(f[1]) === pid) children.push(Number(name));
  }
  return children;
}

/** Sends a signal, ignoring a process that is already gone (ESRCH). */
export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** Rows of /proc/net/tcp and tcp6 whose local port is `port` and state `state` (hex, e.g. 0A = LISTEN). */
function tcpRows(port: number, state: string, files: string[]): string[][] {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const rows: string[][] = [];
  for (const file of files) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[1] local ADDR:PORT in hex, cols[3] state, cols[9] socket inode.
      if (cols[1]?.endsWith(hex) && cols[3] === state) rows.push(cols);
    }
  }
  return rows;
}

/** Established TCP sockets whose local port is `port`: the peer's port and the socket inode (0: not accepted yet). */
export function establishedOn(port: number): Array<{ remotePort: number; inode: string }> {
  return tcpRows(port, '01', ['/proc/net/tcp', '/proc/net/tcp6']).map((cols) => ({
    remotePort: Number.parseInt(cols[2]?.split(':')[1] ?? '0', 16),
    inode: cols[9] ?? '',
  }));
}

/**
 * True if some socket listens on this TCP port. Trying to bind the port instead would be flaky:
 * under other tests' load a client connection can take a freed port as its source port.
 */
export function someoneListensOn(port: number): boolean {
  return tcpRows(port, '0A', ['/proc/net/tcp', '/proc/net/tcp6']).length > 0;
}

/**
 * How many ESTABLISHED server-side IPv4 connections on local `port` each pid holds: socket inodes
 * matched against each process's fds. A pid that is gone counts 0.
 */
export function connectionsByPid(pids: number[], port: number): Map<number, number> {
  const established = new Set(tcpRows(port, '01', ['/proc/net/tcp']).map((cols) => cols[9]));
  const out = new Map<number, number>();
  for (const pid of pids) {
    let n = 0;
    for (const inode of socketInodes(pid)) if (established.has(inode)) n++;
    out.set(pid, n);
  }
  return out;
}

/** The inodes of the sockets a process holds open (none if it is gone). */
export function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes; // the process is gone
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // the fd closed while we looked
    }
  }
  return inodes;
}

/** VmRSS in kB of a process that must be alive: throws if it is gone. */
export function liveRssKb(pid: number): number {
  const kb = rssKb(pid);
  if (kb === null) throw new Error(`no VmRSS for pid ${pid}: it is gone`);
  return kb;
}
