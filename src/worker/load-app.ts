// Runs inside a worker: imports the user's module and turns its export into something that can
// serve HTTP. Accepted shapes: a request listener (plain http, Express), an object with
// .callback() (Koa), a net/http/https Server that is not listening yet, a Fastify-like object
// (.server and .ready()), or a factory marked with `()` that returns (or resolves to) any of these.

import { spawnSync } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { Server as NetServer } from 'node:net';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AppSpec, checkAppFile } from '../app-spec.js';

export type LoadedApp =
  | { kind: 'server'; server: NetServer }
  | { kind: 'listener'; listener: RequestListener };

/** An app that cannot be loaded, with a one-line message for the log and the place it failed. */
export class AppLoadError extends Error {
  constructor(
    message: string,
    readonly where: string | null = null,
  ) {
    super(message);
  }
}

/** Imports the module named by the spec and resolves its export to a server or a listener. */
export async function loadApp(spec: AppSpec, cwd: string): Promise<LoadedApp> {
  const missing = checkAppFile(spec, cwd);
  if (missing) throw new AppLoadError(missing);
  const abs = resolve(cwd, spec.file);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof SyntaxError ? syntaxErrorWhere(abs, cwd) : userFrame(err, cwd);
    throw new AppLoadError(`${spec.file} threw while loading: ${oneLine(err)}`, where);
  }
  const exportLabel = spec.exportName ?? 'default';
  let value = pickExport(ns, spec.exportName);
  if (value === undefined) {
    const names = Object.keys(ns).filter((k) => k !== 'module.exports');
    const found = names.length ? `it exports: ${names.join(', ')}` : 'it exports nothing';
    const hint =
      names.length && !spec.exportName ? `; name one, e.g. ${spec.file}:${names[0]}` : '';
    throw new AppLoadError(`${spec.file} has no export '${exportLabel}' (${found}${hint})`);
  }
  if (spec.factory) {
    if (typeof value !== 'function') {
      throw new AppLoadError(
        `${spec.file}:${exportLabel}() is marked as a factory but is ${kindOf(value)}, not a function`,
      );
    }
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw new AppLoadError(
        `${spec.file}:${exportLabel}() threw: ${oneLine(err)}`,
        userFrame(err, cwd),
      );
    }
  }
  return toServable(value, `${spec.file}:${exportLabel}${spec.factory ? '()' : ''}`);
}

function pickExport(ns: Record<string, unknown>, name: string | null): unknown {
  if (name === null) return ns.default;
  if (name in ns) return ns[name];
  const def = ns.default;
  // A CommonJS module's named exports are not always visible to import(); look on module.exports.
  if ((typeof def === 'object' || typeof def === 'function') && def !== null && name in def) {
    return (def as Record<string, unknown>)[name];
  }
  return undefined;
}

async function toServable(value: unknown, label: string): Promise<LoadedApp> {
  if (value instanceof NetServer) {
    if (value.listening) {
      throw new AppLoadError(
        `${label} is a server that is already listening; export it without calling .listen() — gsup listens for it`,
      );
    }
    return { kind: 'server', server: value };
  }
  if ((typeof value === 'object' || typeof value === 'function') && value !== null) {
    const v = value as Record<string, unknown>;
    if (v.server instanceof NetServer && typeof v.ready === 'function') {
      // Fastify and friends: routes are registered once ready() resolves.
      await (v.ready as () => Promise<unknown>).call(value);
      return toServable(v.server, label);
    }
    if (typeof value !== 'function' && typeof v.callback === 'function') {
      return { kind: 'listener', listener: (v.callback as () => RequestListener).call(value) };
    }
  }
  if (typeof value === 'function') {
    return { kind: 'listener', listener: value as RequestListener };
  }
  throw new AppLoadError(
    `${label} is ${kindOf(value)}; expected a request listener (req, res), an http.Server that is not listening, an object with .callback() (Koa), or a factory written as FILE:NAME()`,
  );
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  if (typeof v === 'string') return `a string (${JSON.stringify(v.slice(0, 40))})`;
  return `${typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`}${typeof v === 'number' || typeof v === 'boolean' ? ` (${String(v)})` : ''}`;
}

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
  const gsupDist = new URL('..', import.meta.url).pathname;
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
