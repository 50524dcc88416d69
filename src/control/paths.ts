// Where an instance's control socket lives: $XDG_RUNTIME_DIR/gsup/NAME.sock, else
// ~/.gsup/NAME.sock, unless --control names a path.

import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function controlPath(name: string, override: string | null, env = process.env): string {
  if (override) return override;
  const base = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'gsup') : join(homedir(), '.gsup');
  return join(base, `${name}.sock`);
}

/** What to do when the control socket has no usable directory, said once for every cause. */
export const CONTROL_DIR_FIX =
  'give it one with --control PATH (under systemd: RuntimeDirectory=NAME and --control /run/NAME/control.sock), or set XDG_RUNTIME_DIR, or run without a control socket with --no-control';

/**
 * Makes the control socket's directory (mode 0700) if it is missing, and only that directory:
 * its parent must exist. A service user whose home does not exist (HOME=/nonexistent) gets an
 * error naming the fix, and root never creates a missing home. Returns the one-line error, or null.
 */
export function makeControlDir(dir: string): string | null {
  try {
    if (statSync(dir).isDirectory()) return null;
    return `the control socket directory ${dir} is not a directory; ${CONTROL_DIR_FIX}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return cannot(dir, err);
  }
  try {
    mkdirSync(dir, { mode: 0o700 });
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return `cannot create the control socket directory ${dir}: ${dirname(dir)} does not exist (gsup does not create it${dir === join(homedir(), '.gsup') ? '; it is the home directory' : ''}); ${CONTROL_DIR_FIX}`;
    }
    return cannot(dir, err);
  }
}

function cannot(dir: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  const what = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : 'failed';
  return `cannot create the control socket directory ${dir}: ${what} (${code}); ${CONTROL_DIR_FIX}`;
}

/** The directory the instances' sockets are in when no --control names one (what gsup ls scans). */
export function controlDir(env = process.env): string {
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'gsup') : join(homedir(), '.gsup');
}
