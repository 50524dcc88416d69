// Runs inside a worker: imports the user's module and turns its export into something that can
// serve HTTP. Accepted shapes: a request listener (plain http, Express), an object with
// .callback() (Koa), a net/http/https Server that is not listening yet, a Fastify-like object
// (.server and .ready()), or a factory marked with `()` that returns (or resolves to) any of these.

import type { RequestListener } from 'node:http';
import { Server as NetServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AppSpec, checkAppFile } from '../app-spec.js';
import { oneLine, syntaxErrorWhere, userFrame } from '../error-text.js';

export type LoadedApp =
  | { kind: 'server'; server: NetServer }
  | { kind: 'listener'; listener: RequestListener };

/** An app that cannot be loaded, with a one-line message for the log and the place it failed. */
export class AppLoadError extends Error {
  constructor(
    message: string,
    readonly where: string | null = null,
    /** The module loaded but gave no app: nothing exported, or nothing gsup can serve. */
    readonly noApp = false,
  ) {
    super(message);
  }
}

/** How to hand gsup the app, for a module that exports none. */
const EXPORT_IT = 'export the app: module.exports = app (CommonJS) or export default app (ESM)';

/** Imports the module named by the spec and resolves its export to a server or a listener. */
export async function loadApp(spec: AppSpec, cwd: string): Promise<LoadedApp> {
  const missing = checkAppFile(spec, cwd);
  if (missing) throw new AppLoadError(missing);
  const abs = resolve(cwd, spec.file);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    // A syntax error in the file has its place from `node --check`; one thrown while running
    // (JSON.parse at import) is not in the file's syntax, and its own frames say where.
    const where =
      (err instanceof SyntaxError ? syntaxErrorWhere(abs, cwd) : null) ?? userFrame(err, cwd);
    throw new AppLoadError(`${spec.file} threw while loading: ${oneLine(err)}`, where);
  }
  const exportLabel = spec.exportName ?? 'default';
  // The factory as the user wrote it: `app.js:create()`, or `app.js()` for the default export.
  const factoryLabel = `${spec.file}${spec.exportName ? `:${spec.exportName}` : ''}()`;
  let value = pickExport(ns, spec.exportName);
  if (value === undefined) {
    const names = Object.keys(ns).filter((k) => k !== 'module.exports');
    if (!names.length) {
      throw new AppLoadError(`${spec.file} exports nothing; ${EXPORT_IT}`, null, true);
    }
    const hint = spec.exportName ? '' : `; name one, e.g. ${spec.file}:${names[0]}`;
    throw new AppLoadError(
      `${spec.file} has no export '${exportLabel}' (it exports: ${names.join(', ')}${hint})`,
      null,
      true,
    );
  }
  if (spec.exportName === null && isEmptyObject(value)) {
    // CommonJS that never set module.exports: its default export is the empty object.
    throw new AppLoadError(
      `${spec.file} exports nothing (module.exports is an empty object); ${EXPORT_IT}`,
      null,
      true,
    );
  }
  if (spec.factory) {
    if (typeof value !== 'function') {
      throw new AppLoadError(
        `${factoryLabel} is marked as a factory but is ${kindOf(value)}, not a function`,
      );
    }
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw new AppLoadError(`${factoryLabel} threw: ${oneLine(err)}`, userFrame(err, cwd));
    }
  }
  return toServable(value, spec.factory ? factoryLabel : `${spec.file}:${exportLabel}`);
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
    null,
    true,
  );
}

function isEmptyObject(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    Object.getPrototypeOf(v) === Object.prototype &&
    Object.keys(v).length === 0
  );
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  if (typeof v === 'string') return `a string (${JSON.stringify(v.slice(0, 40))})`;
  return `${typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`}${typeof v === 'number' || typeof v === 'boolean' ? ` (${String(v)})` : ''}`;
}
