// Gunicorn-style app specs: `app.js`, `app.mjs:handler`, `app.js:create()`. Parsed by the CLI
// (to fail fast on a missing file) and by the worker runtime (to load the app).

import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface AppSpec {
  /** The module path as written. */
  file: string;
  /** The export to use; null means the default export (module.exports for CommonJS). */
  exportName: string | null;
  /** True when the spec ends in `()`: the export is a factory to call (it may be async). */
  factory: boolean;
}

const SPEC = /^(?<file>.+?)(?::(?<name>[A-Za-z_$][\w$]*)?(?<call>\(\))?)?$/;

/** Parses an app spec, or returns a one-line error naming the problem. */
export function parseAppSpec(spec: string): AppSpec | string {
  const m = SPEC.exec(spec.trim());
  const file = m?.groups?.file;
  if (!m || !file) {
    return `app: expected FILE, FILE:EXPORT or FILE:FACTORY(), got ${JSON.stringify(spec)}`;
  }
  return { file, exportName: m.groups?.name ?? null, factory: m.groups?.call === '()' };
}

/** Checks that the app's file exists; returns a one-line error or null. */
export function checkAppFile(spec: AppSpec, cwd: string): string | null {
  const abs = resolve(cwd, spec.file);
  if (!existsSync(abs)) {
    return `app not found: ${spec.file} (looked for ${abs})`;
  }
  if (!statSync(abs).isFile()) {
    return `app is not a file: ${spec.file} (${abs})`;
  }
  return null;
}
