// PM2, run from its bench-only install (bench/pm2/, never a dependency of gsup) with a PM2_HOME
// of its own in a temp dir, so it never touches a developer's PM2 and `pm2 kill` ends it all.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { makeTempDir, removeDir } from '../harness/tmp.js';

const BIN = new URL('./pm2/node_modules/pm2/bin/pm2', import.meta.url).pathname;

/** True when bench/pm2/ has its PM2 installed. */
export function hasPm2(): boolean {
  return existsSync(BIN);
}

export const PM2_INSTALL = 'PM2 is not installed for the benchmarks: (cd bench/pm2 && npm install)';

/** A fresh PM2_HOME; its daemon starts with the first command. */
export function pm2Home(): string {
  return makeTempDir('bench-pm2');
}

/** Runs one pm2 command against `home`; returns its stdout. */
export function pm2(home: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env, PM2_HOME: home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

/** The app's instances as `pm2 jlist` reports them: pid and status. */
export function pm2Instances(
  home: string,
): Array<{ pid: number; status: string | undefined; restarts: number }> {
  const list = JSON.parse(pm2(home, ['jlist'])) as Array<{
    pid: number;
    pm2_env?: { status?: string; restart_time?: number };
  }>;
  return list.map((p) => ({
    pid: p.pid,
    status: p.pm2_env?.status,
    restarts: p.pm2_env?.restart_time ?? 0,
  }));
}

/** Ends the daemon and its apps, and removes the home. Safe to call twice. */
export function pm2Kill(home: string): void {
  if (!existsSync(home)) return;
  try {
    pm2(home, ['kill']);
  } catch {
    // no daemon was running
  }
  removeDir(home);
}
