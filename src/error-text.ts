// How a user's error reads in one of our one-line messages: its message, and where in the
// user's files it happened. Shared by the config loader (a config file that throws) and the
// worker (an app that throws), so neither room imports from the other.

import { spawnSync } from 'node:child_process';
import { relative } from 'node:path';

/** The error's message on one line, with its class name. */
export function oneLine(err: unknown): string {
  if (err instanceof Error) {
    const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
    return `${name}${err.message}`.split('\n')[0] ?? String(err);
  }
  return String(err);
}

/**
 * Where a SyntaxError is: Node 20 keeps an ES module's syntax error location out of err.stack, so
 * ask `node --check`, which prints `path:line` first. Only ever called on the error path.
 */
export function syntaxErrorWhere(abs: string, cwd: string): string | null {
  const r = spawnSync(process.execPath, ['--check', abs], { encoding: 'utf8', timeout: 10_000 });
  const first = (r.stderr ?? '').split('\n')[0] ?? '';
  const m = /^(\/[^:]+):(\d+)$/.exec(first.trim());
  return m?.[1] ? `${relative(cwd, m[1]) || m[1]}:${m[2]}` : null;
}

/** The first stack frame that points into the user's files (not node: internals, not gsup). */
export function userFrame(err: unknown, cwd: string): string | null {
  if (!(err instanceof Error) || !err.stack) return null;
  // Our own compiled code lives in dist/; frames there are gsup's, not the user's.
  const gsupDist = new URL('.', import.meta.url).pathname;
  // A SyntaxError names its place on the first line ("file:///app.mjs:3"), other errors in frames.
  for (const line of err.stack.split('\n')) {
    const m = /(?:^|[\s(])((?:file:\/\/)?\/[^()\s:]+):(\d+)(?::(\d+))?\)?\s*$/.exec(line);
    if (!m?.[1]) continue;
    const path = decodeURIComponent(m[1].replace(/^file:\/\//, ''));
    if (path.startsWith(gsupDist) || path.includes('/node_modules/')) continue;
    return `${relative(cwd, path) || path}:${m[2]}${m[3] ? `:${m[3]}` : ''}`;
  }
  return null;
}
