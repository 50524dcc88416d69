// Turns argv (and the environment defaults) into a validated Config. Argument splitting is
// node:util's parseArgs, driven by the schema; every value is checked here with one message
// style: the setting, the bad value, where it came from and what was expected.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { suggest } from '../suggest.js';
import {
  type AnySetting,
  type Config,
  isComplete,
  SETTINGS,
  type Setting,
  type SettingFor,
  setDefault,
} from './schema.js';

/** A user mistake in the configuration; the message is one line and names the fix. */
export class ConfigError extends Error {}

export type Source = 'default' | 'env' | 'file' | 'cmdargs' | 'cli';

/** Where a value came from, as an error message says it. */
export function sourceText(source: Source, file?: string | null): string {
  switch (source) {
    case 'default':
      return 'the default';
    case 'env':
      return 'the environment';
    case 'file':
      return file ? `the config file ${file}` : 'the config file';
    case 'cmdargs':
      return 'GSUP_CMD_ARGS';
    case 'cli':
      return 'the command line';
  }
}

export interface ParsedStart {
  config: Config;
  sources: Record<keyof Config, Source>;
  positionals: string[];
  help: boolean;
}

/** One source's validated values, before merging. */
export interface Layer {
  source: Source;
  values: Partial<Config>;
  positionals: string[];
  help: boolean;
}

function optionsFor(settings: readonly Setting[]): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of settings) {
    options[s.flag] = {
      type: s.type === 'flag' ? 'boolean' : 'string',
      ...(s.short ? { short: s.short } : {}),
      ...(s.type === 'list' ? { multiple: true } : {}),
    };
  }
  return options;
}

/** Parses command-line style arguments (argv, or GSUP_CMD_ARGS split) into a layer. */
export function argvLayer(argv: string[], source: 'cli' | 'cmdargs'): Layer {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv),
      options: optionsFor(SETTINGS),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const msg = explainParseError(err);
    throw new ConfigError(source === 'cmdargs' ? `${msg} (in GSUP_CMD_ARGS)` : msg);
  }
  const values: Layer['values'] = {};
  for (const s of SETTINGS) {
    const raw = parsed.values[s.flag];
    if (raw === undefined) continue;
    // `--no-X` flags turn a setting that defaults to on off.
    const value = typeof raw === 'boolean' && s.flag.startsWith('no-') ? !raw : raw;
    setChecked(values, s, value, sourceText(source));
  }
  return { source, values, positionals: parsed.positionals, help: parsed.values.help === true };
}

/** Sets a setting's default, with WEB_CONCURRENCY and PORT read as Gunicorn reads them. */
function putDefault(
  into: Partial<Config>,
  s: AnySetting,
  env: Record<string, string | undefined>,
): Source {
  const fromEnv = s.envVar ? env[s.envVar] : undefined;
  if (fromEnv && s.key === 'workers') {
    setChecked(into, s, fromEnv, 'WEB_CONCURRENCY, the environment');
    return 'env';
  }
  if (fromEnv && s.key === 'bind' && !/^\d{1,5}$/.test(fromEnv)) {
    throw new ConfigError(
      `bind: expected PORT to be a port number from 0 to 65535, got ${JSON.stringify(fromEnv)} (from PORT, the environment)`,
    );
  }
  setDefault(into, s, env);
  return fromEnv ? 'env' : 'default';
}

/**
 * Merges layers over the defaults: later layers win. The environment's defaults are only read
 * (and checked) for settings no layer sets. Checks the rules that span settings.
 */
export function merge(
  layers: Layer[],
  env: Record<string, string | undefined>,
  file: string | null = null,
): { config: Config; sources: Record<keyof Config, Source> } {
  const config: Partial<Config> = {};
  const sources: Partial<Record<keyof Config, Source>> = {};
  for (const s of SETTINGS) {
    const top = [...layers].reverse().find((l) => l.values[s.key] !== undefined);
    if (top) {
      copySetting(config, top.values, s.key);
      sources[s.key] = top.source;
    } else sources[s.key] = putDefault(config, s, env);
  }
  // Every setting has a default, so only a bug in the schema can fail this.
  if (!isComplete(config) || !hasEvery(sources)) throw new Error('merge: a setting got no value');
  checkAutoscale(config, sources, file);
  if (sources.maxWorkers === 'default')
    config.maxWorkers = Math.max(config.maxWorkers, config.workers);
  else if (config.workers > config.maxWorkers) {
    throw new ConfigError(
      `workers: ${config.workers} is above max-workers ${config.maxWorkers} (from ${sourceText(sources.workers, file)}); raise max-workers or lower workers`,
    );
  }
  return { config, sources };
}

/**
 * The bounds of autoscaling: min-workers never above an explicit max-workers; with --autoscale,
 * a worker count left at its default starts at min-workers at least, a given one below it is an error.
 */
function checkAutoscale(
  config: Config,
  sources: Record<keyof Config, Source>,
  file: string | null,
): void {
  if (sources.maxWorkers !== 'default' && config.minWorkers > config.maxWorkers) {
    throw new ConfigError(
      `min-workers: ${config.minWorkers} is above max-workers ${config.maxWorkers} (from ${sourceText(sources.minWorkers, file)}); lower min-workers or raise max-workers`,
    );
  }
  if (!config.autoscale || config.workers >= config.minWorkers) return;
  if (sources.workers === 'default') config.workers = config.minWorkers;
  else {
    throw new ConfigError(
      `workers: ${config.workers} is below min-workers ${config.minWorkers} (from ${sourceText(sources.workers, file)}); with --autoscale, -w is the starting count: raise it or lower min-workers`,
    );
  }
}

/** True when every setting has a source. */
function hasEvery(
  sources: Partial<Record<keyof Config, Source>>,
): sources is Record<keyof Config, Source> {
  return SETTINGS.every((s) => sources[s.key] !== undefined);
}

/** Parses the arguments of `gsup start` over the environment's defaults. Throws ConfigError. */
export function parseStart(argv: string[], env: Record<string, string | undefined>): ParsedStart {
  const cli = argvLayer(argv, 'cli');
  const { config, sources } = merge([cli], env);
  return { config, sources, positionals: cli.positionals, help: cli.help };
}

/** Settings whose values are themselves flags (`--node-arg --no-warnings`). */
const DASH_VALUED = new Set(SETTINGS.filter((s) => s.key === 'nodeArg').map((s) => s.flag));
/** Long flag names by their spelling on the command line, for the options that take a value. */
const VALUED = new Map<string, string>();
for (const s of SETTINGS) {
  if (s.type === 'flag') continue;
  VALUED.set(`--${s.flag}`, s.flag);
  if (s.short) VALUED.set(`-${s.short}`, s.flag);
}

/** Every option gsup start knows, as written on the command line (`--no-tui`, `-w`, `--help`). */
const OPTIONS = new Set(['--help', '-h']);
for (const s of SETTINGS) {
  OPTIONS.add(`--${s.flag}`);
  if (s.short) OPTIONS.add(`-${s.short}`);
}

/** True when an argument is one of gsup start's own options (with or without `=VALUE`). */
function isOption(arg: string): boolean {
  return OPTIONS.has(arg.split('=')[0] ?? arg);
}

/**
 * Rewrites `--node-arg --flag` and `-t -1` as `--node-arg=--flag` and `--timeout=-1`: parseArgs
 * calls a value that starts with a dash ambiguous, and a negative number deserves the setting's
 * own range message instead.
 */
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const next = argv[i + 1];
    const flag = VALUED.get(a);
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (flag && next?.startsWith('-') && (DASH_VALUED.has(flag) || /^-\d/.test(next))) {
      out.push(`--${flag}=${next}`);
      i++;
    } else if (flag && next !== undefined && isOption(next)) {
      // `--timeout --no-tui`: the value was left out, and the next flag is not a value.
      throw new ConfigError(
        `${flag}: missing a value after ${a} (the next argument is the option ${next}); write ${a} VALUE`,
      );
    } else out.push(a);
  }
  return out;
}

/** Copies one setting's value, if set, from one partial config to another. */
function copySetting<K extends keyof Config>(
  into: Partial<Config>,
  from: Partial<Config>,
  key: K,
): void {
  const value = from[key];
  if (value !== undefined) into[key] = value;
}

/** Checks a raw value for a setting and sets it into a partial config. Throws ConfigError. */
export function setChecked<K extends keyof Config>(
  into: Partial<Config>,
  s: SettingFor[K],
  value: unknown,
  from: string,
): void {
  into[s.key] = checkValue(s, value, from);
}

/** Validates one value (from any source) for a setting; returns it converted. Throws ConfigError. */
export function checkValue<V>(s: Setting<string, V>, value: unknown, from: string): V {
  return s.convert(value, (expected, got = value) => {
    throw new ConfigError(`${s.flag}: expected ${expected}, got ${show(got)} (from ${from})`);
  });
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    return String(value);
  }
}

function explainParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const opt = /'([^']+)'/.exec(msg)?.[1] ?? msg;
    const guess = suggest(opt.replace(/^-+/, '').split('=')[0] ?? '', knownFlags());
    return `unknown option ${opt}${guess ? `; did you mean --${guess}?` : ''} (see gsup start --help)`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const opt = /--([a-z-]+)/.exec(msg)?.[1];
    if (opt && msg.includes('argument missing')) return `${opt}: missing a value after --${opt}`;
    if (opt && msg.includes('ambiguous'))
      return `${opt}: the value starts with a dash; write --${opt}=VALUE`;
    if (opt) return `${opt}: does not take a value`;
  }
  return msg;
}

function knownFlags(): string[] {
  return ['help', ...SETTINGS.map((s) => s.flag)];
}

/** Did-you-mean, shared with every other room (src/suggest.ts). */
export { suggest } from '../suggest.js';

/** `gsup start --help`, generated from the schema, wrapped to `width` columns (a terminal's). */
export function startHelp(width = 100): string {
  const lines = [
    'Usage: gsup start APP [options]',
    '',
    ...wrapWords(
      "APP is FILE, FILE:EXPORT, FILE:FACTORY() or FILE() (e.g. app.js, app.mjs:handler, app.js:create()); FILE() calls the default export. With -k wsgi, MODULE:VARIABLE (e.g. mysite.wsgi:application); with -k exec, a command line that accepts on fd 3 (e.g. 'uvicorn --fd 3 app:app'); see docs/worker-protocol.md",
      width,
    ),
    '',
    'Options:',
  ];
  const rows: Array<[string, string]> = SETTINGS.map((s) => [
    `${s.short ? `-${s.short}, ` : '    '}--${s.flag}${s.metavar ? ` ${s.metavar}` : ''}`,
    `${s.doc}${s.type === 'flag' ? '' : ` [default: ${s.defaultDoc}]`}`,
  ]);
  rows.push(['-h, --help', 'show this help']);
  // The doc column starts after the names; a narrow terminal gets the doc on lines of its own.
  const indent = 2 + 34 + 1;
  const beside = width - indent >= 30;
  for (const [names, doc] of rows) {
    if (beside) {
      const [first = '', ...rest] = wrapWords(doc, width - indent);
      lines.push(`  ${names.padEnd(34)} ${first}`);
      for (const more of rest) lines.push(`${' '.repeat(indent)}${more}`);
    } else {
      lines.push(`  ${names}`);
      for (const more of wrapWords(doc, width - 8)) lines.push(`${' '.repeat(8)}${more}`);
    }
  }
  return lines.join('\n');
}

/** `text` in lines of at most `width` characters, broken between words (a longer word stays whole). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}
