// What the kernel says about a process, read straight from /proc (Linux only): CPU time, RSS,
// liveness and children. No `ps` or pidusage, so that measuring costs the measured process nothing.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/PID/stat (usually 100). */
export function clockTicks() {
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
function statFields(pid) {
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of the process itself (not its children), in clock ticks; null when gone. */
export function cpuTicks(pid) {
  const f = statFields(pid);
  // proc(5): utime is field 14, stime field 15; f[0] is field 3.
  return f ? Number(f[11]) + Number(f[12]) : null;
}

/** VmRSS in kB from /proc/PID/status; null when gone. */
export function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Alive and not a zombie: PID 1 here does not reap orphans, so `kill -0` would lie. */
export function alive(pid) {
  const f = statFields(pid);
  return f !== null && f[0] !== 'Z';
}

/** Pids whose parent is `pid` (field 4 of stat), found by scanning /proc. */
export function childPids(pid) {
  const children = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f && Number(f[1]) === pid) children.push(Number(name));
  }
  return children;
}

/** Sends a signal, ignoring a process that is already gone (ESRCH). */
export function safeKill(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone: nothing to do.
  }
}

/**
 * How many ESTABLISHED server-side TCP connections on local `port` each pid holds: the socket
 * inodes in /proc/net/tcp matched against each process's fds. A pid that is gone counts 0.
 */
export function connectionsByPid(pids, port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const established = new Set();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(hex) && f[3] === '01') established.add(f[9]);
  }
  const out = new Map();
  for (const pid of pids) {
    let n = 0;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && established.has(m[1])) n++;
        } catch {
          // closed while we looked
        }
      }
    } catch {
      // gone
    }
    out.set(pid, n);
  }
  return out;
}
