// User and group names to ids, from /etc/passwd and /etc/group (Node has no getpwnam).

import { readFileSync } from 'node:fs';

function lookup(file: string, name: string): { id: number; gid: number | null } | null {
  if (/^\d+$/.test(name)) return { id: Number(name), gid: null };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const parts = line.split(':');
    if (parts[0] === name && parts[2] !== undefined) {
      return {
        id: Number(parts[2]),
        gid: parts[3] !== undefined && file.endsWith('passwd') ? Number(parts[3]) : null,
      };
    }
  }
  return null;
}

/** A user name or uid: its uid and primary gid (null for a bare uid), or null if unknown. */
export function userIds(name: string): { uid: number; gid: number | null } | null {
  const found = lookup('/etc/passwd', name);
  return found ? { uid: found.id, gid: found.gid } : null;
}

/** A group name or gid: its gid, or null if unknown. */
export function groupId(name: string): number | null {
  return lookup('/etc/group', name)?.id ?? null;
}
