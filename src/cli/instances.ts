// The gsup instances running for this user: every socket in the control directory that answers
// `status`. Read by `gsup ls`, and by every verb that finds no instance by the name it was given.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient } from '../control/client.js';
import { controlDir } from '../control/paths.js';
import type { PoolSnapshot } from '../supervisor/snapshot.js';

/** One running instance: its name (the socket's), the socket, and its pool as it answered. */
export interface Instance {
  name: string;
  path: string;
  snapshot: PoolSnapshot;
}

/** How long one socket may take to answer before it is passed over. */
const ASK_MS = 3000;

/** The instances whose sockets in `dir` answer, by name; stale sockets and other files are left out. */
export async function runningInstances(dir = controlDir()): Promise<Instance[]> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.sock'));
  } catch {
    return [];
  }
  const found = await Promise.all(
    names.sort().map((file) => ask(file.slice(0, -'.sock'.length), join(dir, file))),
  );
  return found.filter((i): i is Instance => i !== null);
}

/** Asks one socket for its snapshot; null when nobody answers (a stale socket) or in time. */
async function ask(name: string, path: string): Promise<Instance | null> {
  let client: ControlClient;
  try {
    client = await ControlClient.connect(path, name);
  } catch {
    return null;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ASK_MS);
    });
    const r = await Promise.race([client.request({ cmd: 'status' }), late]);
    if (!r?.ok) return null;
    return { name, path, snapshot: r.result as PoolSnapshot };
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/** For a verb that found no instance by its name: the ones that are running, or null if none. */
export async function runningNames(): Promise<string[] | null> {
  const all = await runningInstances();
  return all.length ? all.map((i) => i.name) : null;
}
