// The whole configuration of `gsup start` (and `gsup check`), from every source, lowest first:
// defaults (WEB_CONCURRENCY, PORT) < the config file < GSUP_CMD_ARGS < the command line.
// Called again on every reload, so a changed file takes effect and a broken one is refused.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { oneLine, syntaxErrorWhere, userFrame } from '../error-text.js';
import {
  argvLayer,
  ConfigError,
  type Layer,
  merge,
  type Source,
  setChecked,
  sourceText,
  suggest,
} from './parse.js';
import { type Config, HOOKS, type HookName, SETTINGS } from './schema.js';

/** Config files looked for in the working directory, in this order, when -c is not given. */
export const CONFIG_FILES = [
  'gsup.config.js',
  'gsup.config.mjs',
  'gsup.config.cjs',
  'gsup.config.json',
];

export type Hooks = Partial<Record<HookName, (snapshot: unknown) => unknown>>;

export interface Resolved {
  config: Config;
  sources: Record<keyof Config, Source>;
  /** The app spec: the command line's positional, else the file's `app`. */
  app: string | null;
  appSource: Source | null;
  /** The config file read, as a path relative to the working directory (null: none). */
  file: string | null;
  hooks: Hooks;
  help: boolean;
  positionals: string[];
}

/** Splits GSUP_CMD_ARGS like a shell would for plain words and quotes (no expansions). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur);
      cur = '';
      any = false;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
    } else cur += ch;
  }
  if (quote)
    throw new ConfigError(`GSUP_CMD_ARGS: unclosed ${quote} quote in ${JSON.stringify(text)}`);
  if (cur || any) out.push(cur);
  return out;
}

/** Resolves every source into one checked configuration. Throws ConfigError, one line. */
export async function resolveStart(
  argv: string[],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<Resolved> {
  const cli = argvLayer(argv, 'cli');
  const cmdargs = env.GSUP_CMD_ARGS ? argvLayer(splitArgs(env.GSUP_CMD_ARGS), 'cmdargs') : null;
  const explicit = cli.values.config ?? cmdargs?.values.config ?? null;
  const path = explicit ?? CONFIG_FILES.find((f) => existsSync(resolve(cwd, f))) ?? null;
  if (explicit && !existsSync(resolve(cwd, explicit))) {
    throw new ConfigError(
      `config: file not found: ${explicit} (looked for ${resolve(cwd, explicit)})`,
    );
  }
  const file = path ? await fileLayer(resolve(cwd, path), path, cwd) : null;
  const layers = [file?.layer, cmdargs, cli].filter(
    (l): l is Layer => l !== null && l !== undefined,
  );
  const { config, sources } = merge(layers, env, path);
  if (path) {
    config.config = path;
    sources.config = explicit ? (cli.values.config ? 'cli' : 'cmdargs') : 'default';
  }
  let app: string | null = null;
  let appSource: Source | null = null;
  if (cli.positionals.length > 0) {
    if (cli.positionals.length > 1) {
      throw new ConfigError(
        `start: expected one app, got ${cli.positionals.length}: ${cli.positionals.join(' ')}`,
      );
    }
    app = cli.positionals[0] ?? null;
    appSource = 'cli';
  } else if (cmdargs && cmdargs.positionals.length > 0) {
    app = cmdargs.positionals[0] ?? null;
    appSource = 'cmdargs';
  } else if (file?.app) {
    app = file.app;
    appSource = 'file';
  }
  return {
    config,
    sources,
    app,
    appSource,
    file: path,
    hooks: file?.hooks ?? {},
    help: cli.help,
    positionals: cli.positionals,
  };
}

const FILE_KEYS: string[] = SETTINGS.filter((s) => !s.cliOnly).map((s) => s.key);
const HOOK_NAMES: string[] = HOOKS.map((h) => h.name);

/** True for the name of a hook a config file may export. */
function isHookName(key: string): key is HookName {
  return HOOK_NAMES.includes(key);
}

/** Reads a config file: JSON, or a JS module whose default export is the settings object. */
async function fileLayer(
  abs: string,
  shown: string,
  cwd: string,
): Promise<{ layer: Layer; app: string | null; hooks: Hooks }> {
  let data: unknown;
  if (abs.endsWith('.json')) {
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (err) {
      throw new ConfigError(`config file ${shown}: cannot read it: ${(err as Error).message}`);
    }
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${shown}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    // A fresh copy on every read (reload): bust both the ESM and the CommonJS caches.
    delete createRequire(import.meta.url).cache[abs];
    try {
      const ns = (await import(
        `${pathToFileURL(abs).href}?v=${Date.now()}-${Math.random()}`
      )) as Record<string, unknown>;
      data = 'default' in ns ? ns.default : ns;
    } catch (err) {
      const where = err instanceof SyntaxError ? syntaxErrorWhere(abs, cwd) : userFrame(err, cwd);
      throw new ConfigError(
        `config file ${shown}: ${oneLine(err)}${where ? ` (at ${where})` : ''}`,
      );
    }
    if (typeof data === 'function') {
      try {
        data = await (data as () => unknown)();
      } catch (err) {
        throw new ConfigError(`config file ${shown}: its exported function threw: ${oneLine(err)}`);
      }
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(
      `config file ${shown}: expected an object of settings, got ${Array.isArray(data) ? 'an array' : typeof data}`,
    );
  }
  const from = sourceText('file', shown);
  const values: Layer['values'] = {};
  const hooks: Hooks = {};
  let app: string | null = null;
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (isHookName(key)) {
      if (typeof value !== 'function') {
        throw new ConfigError(
          `${key}: expected a function (a hook), got ${typeof value} (from ${from})`,
        );
      }
      hooks[key] = value as (s: unknown) => unknown;
      continue;
    }
    if (key === 'app') {
      if (typeof value !== 'string' || !value)
        throw new ConfigError(
          `app: expected a string like "app.js", got ${typeof value} (from ${from})`,
        );
      app = value;
      continue;
    }
    const setting = SETTINGS.find((s) => s.key === key && !s.cliOnly);
    if (!setting) {
      const guess = suggest(key, [...FILE_KEYS, 'app', ...HOOK_NAMES]);
      throw new ConfigError(
        `unknown setting ${JSON.stringify(key)} in ${from}${guess ? `; did you mean ${guess}?` : ''} (settings: ${FILE_KEYS.join(', ')})`,
      );
    }
    setChecked(values, setting, value, from);
  }
  return { layer: { source: 'file', values, positionals: [], help: false }, app, hooks };
}
