// Gunicorn-style app specs: `app.js`, `app.mjs:handler`, `app.js:create()`, `app.js()` (the
// default export is the factory). Parsed by the CLI
// (to fail fast on a missing file) and by the worker runtime (to load the app).

import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, extname, join, resolve } from 'node:path';
import { suggest } from './suggest.js';

export interface AppSpec {
  /** The module path as written. */
  file: string;
  /** The export to use; null means the default export (module.exports for CommonJS). */
  exportName: string | null;
  /** True when the spec ends in `()`: the export is a factory to call (it may be async). */
  factory: boolean;
}

// `()` may follow the file itself (`app.js()`: the default export is the factory), as the
// README's FILE[:EXPORT][()] reads.
const SPEC = /^(?<file>.+?)(?::(?<name>[A-Za-z_$][\w$]*)?)?(?<call>\(\))?$/;

/** Parses an app spec, or returns a one-line error naming the problem. */
export function parseAppSpec(spec: string): AppSpec | string {
  const m = SPEC.exec(spec.trim());
  const file = m?.groups?.file;
  if (!m || !file) {
    return `app: expected FILE, FILE:EXPORT, FILE:FACTORY() or FILE() (e.g. app.js, app.mjs:handler, app.js:create()), got ${JSON.stringify(spec)}`;
  }
  return { file, exportName: m.groups?.name ?? null, factory: m.groups?.call === '()' };
}

/** Checks that the app's file exists; returns a one-line error or null. */
export function checkAppFile(spec: AppSpec, cwd: string): string | null {
  const abs = resolve(cwd, spec.file);
  if (!existsSync(abs)) {
    const near = nearestFile(abs);
    const guess = near ? `; did you mean ${join(dirname(spec.file), near)}?` : '';
    return `app not found: ${spec.file} (looked for ${abs})${guess}`;
  }
  if (!statSync(abs).isFile()) {
    return `app is not a file: ${spec.file} (${abs})`;
  }
  return null;
}

/** Extensions an app file may have, in the order a bare name is tried. */
const APP_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

/** The file next to a missing one that its name likely meant (`expres-app.js`, `express-app`). */
function nearestFile(abs: string): string | null {
  let names: string[];
  try {
    names = readdirSync(dirname(abs), { withFileTypes: true })
      .filter((d) => d.isFile() && APP_EXTENSIONS.includes(extname(d.name)))
      .map((d) => d.name);
  } catch {
    return null;
  }
  const typed = basename(abs);
  // A bare name: the same name with an extension.
  const withExt = APP_EXTENSIONS.map((ext) => `${typed}${ext}`).find((n) => names.includes(n));
  return withExt ?? suggest(typed, names);
}

/** A wsgi app spec: Gunicorn's `module.path:variable`, the variable optionally called (`create_app()`). */
const WSGI_SPEC = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\(\))?)?$/;

/** The program a command names, found as a shell would (a path, or a name on PATH), or null. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | null {
  const candidates = name.includes('/')
    ? [resolve(name)]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not this one
    }
  }
  return null;
}

/**
 * Checks the app of a wsgi or exec pool before any worker starts: the spec's form, the
 * interpreter or program on PATH, the ready pattern. Returns a one-line error or null.
 */
export function checkForeignApp(
  workerClass: string,
  app: string,
  python: string,
  readyPattern: string | null,
): string | null {
  if (readyPattern !== null) {
    try {
      new RegExp(readyPattern);
    } catch (err) {
      return `ready-pattern: not a regular expression: ${JSON.stringify(readyPattern)} (${(err as Error).message})`;
    }
  }
  if (workerClass === 'wsgi') {
    if (!WSGI_SPEC.test(app.trim())) {
      return `app: a wsgi app is MODULE:VARIABLE, e.g. mysite.wsgi:application, got ${JSON.stringify(app)}`;
    }
    if (!findProgram(python)) {
      return `python: ${JSON.stringify(python)} is not an executable program on PATH (give one with --python, e.g. --python /usr/bin/python3)`;
    }
    return null;
  }
  const program = app.trim().split(/\s+/)[0] ?? '';
  if (!program) return 'app: an exec app is a command line, e.g. "uvicorn --fd 3 app:app"';
  if (!program.startsWith('$') && !/['"\\]/.test(program) && !findProgram(program)) {
    return `app: ${JSON.stringify(program)} is not an executable program on PATH (the exec app is a command line; give a path or fix PATH)`;
  }
  return null;
}

/** Checks the app for its worker class before anything starts: a one-line error or null. */
export function checkAppFor(
  o: { workerClass: string; python: string; readyPattern: string | null },
  app: string,
  cwd: string,
): string | null {
  if (o.workerClass !== 'node')
    return checkForeignApp(o.workerClass, app, o.python, o.readyPattern);
  const spec = parseAppSpec(app);
  return typeof spec === 'string' ? spec : checkAppFile(spec, cwd);
}
