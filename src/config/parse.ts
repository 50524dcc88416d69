// Turns argv (and the environment defaults) into a validated Config. Argument splitting is
// node:util's parseArgs, driven by the schema; every value is checked here with one message
// style: the setting, the bad value, where it came from and what was expected.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type Config, SETTINGS, type Setting } from './schema.js';

/** A user mistake in the configuration; the message is one line and names the fix. */
export class ConfigError extends Error {}

export type Source = 'default' | 'env' | 'cli';
const SOURCE_TEXT: Record<Source, string> = {
  default: 'the default',
  env: 'the environment',
  cli: 'the command line',
};

export interface ParsedStart {
  config: Config;
  sources: Record<keyof Config, Source>;
  positionals: string[];
  help: boolean;
}

function optionsFor(settings: Setting[]): NonNullable<ParseArgsConfig['options']> {
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

/** Parses the arguments of `gsup start`. Throws ConfigError. */
export function parseStart(argv: string[], env: Record<string, string | undefined>): ParsedStart {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv),
      options: optionsFor(SETTINGS),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new ConfigError(explainParseError(err));
  }
  const config = {} as Record<keyof Config, unknown>;
  const sources = {} as Record<keyof Config, Source>;
  for (const s of SETTINGS) {
    const raw = parsed.values[s.flag];
    if (raw === undefined) {
      config[s.key] = s.default(env);
      sources[s.key] =
        (s.key === 'workers' && env.WEB_CONCURRENCY) || (s.key === 'bind' && env.PORT)
          ? 'env'
          : 'default';
      if (sources[s.key] === 'env' && s.key === 'workers') {
        checkValue(s, env.WEB_CONCURRENCY ?? '', 'env', 'WEB_CONCURRENCY');
      }
      if (sources[s.key] === 'env' && s.key === 'bind' && !/^\d{1,5}$/.test(env.PORT ?? '')) {
        throw new ConfigError(
          `bind: expected PORT to be a port number from 0 to 65535, got ${JSON.stringify(env.PORT)} (from PORT, the environment)`,
        );
      }
      continue;
    }
    sources[s.key] = 'cli';
    // `--no-X` flags turn a setting that defaults to on off.
    if (s.type === 'flag') config[s.key] = s.flag.startsWith('no-') ? !raw : raw;
    else if (s.type === 'list')
      config[s.key] = (raw as string[]).map((v) => checkValue(s, v, 'cli'));
    else config[s.key] = checkValue(s, raw as string, 'cli');
  }
  const c = config as unknown as Config;
  if (sources.maxWorkers === 'default') c.maxWorkers = Math.max(c.maxWorkers, c.workers);
  else if (c.workers > c.maxWorkers) {
    throw new ConfigError(
      `workers: ${c.workers} is above max-workers ${c.maxWorkers} (from ${SOURCE_TEXT[sources.workers]}); raise --max-workers or lower --workers`,
    );
  }
  return { config: c, sources, positionals: parsed.positionals, help: parsed.values.help === true };
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
    } else out.push(a);
  }
  return out;
}

function checkValue(
  s: Setting,
  value: string,
  source: Source,
  via?: string,
): never | number | string {
  const from = via ? `${via}, ${SOURCE_TEXT[source]}` : SOURCE_TEXT[source];
  const bad = (expected: string): never => {
    throw new ConfigError(
      `${s.flag}: expected ${expected}, got ${JSON.stringify(value)} (from ${from})`,
    );
  };
  if (s.type === 'int') {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < (s.min ?? 0) || n > (s.max ?? Number.MAX_SAFE_INTEGER)) {
      bad(`a whole number from ${s.min ?? 0} to ${s.max ?? Number.MAX_SAFE_INTEGER}`);
    }
    return n;
  }
  if (s.type === 'seconds') {
    const n = Number(value);
    if (
      !/^\d+(\.\d+)?$/.test(value.trim()) ||
      n < (s.min ?? 0) ||
      n > (s.max ?? Number.MAX_SAFE_INTEGER)
    ) {
      bad(`a number of seconds from ${s.min ?? 0} to ${s.max}`);
    }
    return n;
  }
  if (value === '') bad('a non-empty value');
  if (s.pattern && !s.pattern.re.test(value)) bad(s.pattern.expected);
  return value;
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

/** The closest known name within a small edit distance, or null. */
export function suggest(input: string, names: string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const name of names) {
    const d = editDistance(input, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/** `gsup start --help`, generated from the schema. */
export function startHelp(): string {
  const lines = [
    'Usage: gsup start APP [options]',
    '',
    'APP is FILE, FILE:EXPORT or FILE:FACTORY() (e.g. app.js, app.mjs:handler, app.js:create())',
    '',
    'Options:',
  ];
  for (const s of SETTINGS) {
    const names = `${s.short ? `-${s.short}, ` : '    '}--${s.flag}${s.metavar ? ` ${s.metavar}` : ''}`;
    lines.push(
      `  ${names.padEnd(34)} ${s.doc}${s.type === 'flag' ? '' : ` [default: ${s.defaultDoc}]`}`,
    );
  }
  lines.push(`  ${'-h, --help'.padEnd(34)} show this help`);
  return lines.join('\n');
}
