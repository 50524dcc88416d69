// Where an instance's control socket lives: $XDG_RUNTIME_DIR/gsup/NAME.sock, else
// ~/.gsup/NAME.sock, unless --control names a path.

import { homedir } from 'node:os';
import { join } from 'node:path';

export function controlPath(name: string, override: string | null, env = process.env): string {
  if (override) return override;
  const base = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'gsup') : join(homedir(), '.gsup');
  return join(base, `${name}.sock`);
}

/** The directory the instances' sockets are in when no --control names one (what gsup ls scans). */
export function controlDir(env = process.env): string {
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'gsup') : join(homedir(), '.gsup');
}
