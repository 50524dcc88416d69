// PM2, run from its bench-only install (bench/pm2/, never a dependency of gsup) with a PM2_HOME
// of its own in a temp dir, so it never touches a developer's PM2 and `pm2 kill` ends it all.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const BIN = new URL('./pm2/node_modules/pm2/bin/pm2', import.meta.url).pathname;

export function hasPm2() {
  return existsSync(BIN);
}

export const PM2_INSTALL = 'PM2 is not installed for the benchmarks: (cd bench/pm2 && npm install)';

/** A fresh PM2_HOME; its daemon starts with the first command. */
export function pm2Home() {
  return mkdtempSync(`${tmpdir()}/gsup-bench-pm2-`);
}

/** Runs one pm2 command against `home`; returns its stdout. */
export function pm2(home, args, env = {}) {
  return execFileSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env, PM2_HOME: home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

/** The app's instances as `pm2 jlist` reports them: pid and status. */
export function pm2Instances(home) {
  const list = JSON.parse(pm2(home, ['jlist']));
  return list.map((p) => ({ pid: p.pid, status: p.pm2_env?.status }));
}

/** Ends the daemon and its apps, and removes the home. Safe to call twice. */
export function pm2Kill(home) {
  if (!existsSync(home)) return;
  try {
    pm2(home, ['kill']);
  } catch {
    // no daemon was running
  }
  rmSync(home, { recursive: true, force: true });
}
