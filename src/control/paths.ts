// Where an instance's control socket lives: $XDG_RUNTIME_DIR/gsup/NAME.sock, else
// ~/.gsup/NAME.sock, unless --control names a path.

import { homedir } from 'node:os';
import { join } from 'node:path';

export function controlPath(name: string, override: string | null, env = process.env): string {
  if (override) return override;
  const base = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'gsup') : join(homedir(), '.gsup');
  return join(base, `${name}.sock`);
}
