// Every setting and every hook, defined exactly once: name, type, default, flag, environment
// variable, one-line doc, how a reload applies it. The Config type, parsing, validation, the help
// text, `gsup check` and the README's tables are all derived from these lists.

import { availableParallelism } from 'node:os';
import type { EventType } from '../events.js';

type Env = Record<string, string | undefined>;

export type SettingType = 'int' | 'seconds' | 'string' | 'list' | 'flag' | 'octal';

/**
 * How a reload (HUP, `r`, `gsup reload`) applies a changed value: at once; to the workers
 * started from then on (a reload starts new ones); by opening and closing sockets; by scaling the
 * pool to it; or not at all until gsup itself is restarted. In the order the docs list them.
 */
export const RELOAD_KINDS = [
  { kind: 'live', says: 'applied at once' },
  { kind: 'new-workers', says: 'new workers get it' },
  { kind: 'rebind', says: 'sockets opened and closed' },
  { kind: 'count', says: 'the pool follows a change; else a count set at run time stays' },
  { kind: 'restart', says: 'needs a restart of gsup' },
] as const;

export type ReloadKind = (typeof RELOAD_KINDS)[number]['kind'];

/** A reload kind as the docs and `gsup check` say it. */
export function reloadSays(kind: ReloadKind): string {
  return RELOAD_KINDS.find((k) => k.kind === kind)?.says ?? kind;
}

/** Says what a raw value (or one item of a list) should have been; throws, worded by the caller. */
export type Bad = (expected: string, got?: unknown) => never;

/** The rules a value is checked against, besides its type. */
export interface Rules {
  min?: number;
  max?: number;
  /** For strings: the form a value must have, and how to say it. */
  pattern?: { re: RegExp; expected: string };
}

interface SettingSpec<V> extends Rules {
  /** The long flag, without the dashes. */
  flag: string;
  short?: string;
  /** Shown in help, e.g. `N`, `ADDRESS`, `SECONDS`. */
  metavar?: string;
  doc: string;
  /** The default, which may read the environment (WEB_CONCURRENCY, PORT). */
  default: (env: Env) => V;
  /** How the default reads in help. */
  defaultDoc: string;
  /** The environment variable that sets the default, if any (as in Gunicorn). */
  envVar?: string;
  /** Only on the command line (or GSUP_CMD_ARGS): not a config file key. */
  cliOnly?: boolean;
  /** How a reload applies a changed value. */
  reload: ReloadKind;
}

/** One setting: its key in the config (and config file), the type of its value, and its spec. */
export interface Setting<K extends string = string, V = SettingValue> extends SettingSpec<V> {
  key: K;
  type: SettingType;
  /** Checks a raw value (from any source) and converts it; calls `bad` when it does not fit. */
  convert: (value: unknown, bad: Bad) => V;
}

export type SettingValue = number | string | boolean | string[] | null;

/** A helper that declares settings of one type, so each value's TypeScript type follows from it. */
function kind<V>(type: SettingType, convert: (value: unknown, rules: Rules, bad: Bad) => V) {
  return <const K extends string>(key: K, spec: SettingSpec<V>): Setting<K, V> => ({
    key,
    type,
    convert: (value, bad) => convert(value, spec, bad),
    ...spec,
  });
}

function toNumber(form: RegExp, what: string) {
  return (value: unknown, rules: Rules, bad: Bad): number => {
    const text =
      typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    const n = Number(text);
    const min = rules.min ?? 0;
    const max = rules.max ?? Number.MAX_SAFE_INTEGER;
    if (!form.test(text) || n < min || n > max) bad(`${what} from ${min} to ${max}`);
    return n;
  };
}

function toText(value: unknown, rules: Rules, bad: Bad): string {
  if (typeof value !== 'string') return bad('a string');
  if (value === '') bad('a non-empty value');
  if (rules.pattern && !rules.pattern.re.test(value)) bad(rules.pattern.expected);
  return value;
}

function toList(value: unknown, rules: Rules, bad: Bad): string[] {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.map((v) => toText(v, rules, (expected) => bad(expected, v)));
}

function toFlag(value: unknown, _rules: Rules, bad: Bad): boolean {
  return typeof value === 'boolean' ? value : bad('true or false');
}

function toMode(value: unknown, _rules: Rules, bad: Bad): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0o777)
    return value;
  const text = typeof value === 'string' ? value.trim() : '';
  const mode = Number.parseInt(text.replace(/^0o/, ''), 8);
  if (!/^(0o?)?[0-7]{1,4}$/.test(text) || mode > 0o777) bad('an octal mode like 022 or 0o027');
  return mode;
}

const int = kind('int', toNumber(/^\d+$/, 'a whole number'));
const seconds = kind('seconds', toNumber(/^\d+(\.\d+)?$/, 'a number of seconds'));
const text = kind<string>('string', toText);
const optionalText = kind<string | null>('string', toText);
const list = kind('list', toList);
const flag = kind('flag', toFlag);
const optionalMode = kind<number | null>('octal', toMode);

export const SETTINGS = [
  int('workers', {
    flag: 'workers',
    short: 'w',
    metavar: 'N',
    min: 1,
    max: 1024,
    doc: 'number of worker processes',
    default: (env) => {
      const n = Number(env.WEB_CONCURRENCY);
      return Number.isInteger(n) && n >= 1 ? n : availableParallelism();
    },
    defaultDoc: '$WEB_CONCURRENCY, else the number of CPUs',
    envVar: 'WEB_CONCURRENCY',
    reload: 'count',
  }),
  list('bind', {
    flag: 'bind',
    short: 'b',
    metavar: 'ADDRESS',
    doc: 'where to listen: HOST:PORT, :PORT, [::1]:PORT, unix:/PATH or fd://N (repeatable)',
    default: (env) => (env.PORT ? [`0.0.0.0:${env.PORT}`] : ['127.0.0.1:8000']),
    defaultDoc: '127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set',
    envVar: 'PORT',
    reload: 'rebind',
  }),
  int('backlog', {
    flag: 'backlog',
    metavar: 'N',
    min: 1,
    max: 65535,
    doc: 'the listen queue length (the kernel caps it at net.core.somaxconn; gsup warns when it does)',
    default: () => 2048,
    defaultDoc: '2048',
    // Each worker passes it to its listen() when it starts.
    reload: 'new-workers',
  }),
  seconds('timeout', {
    flag: 'timeout',
    short: 't',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'kill a worker silent for this long (its stack is logged); 0 disables',
    default: () => 30,
    defaultDoc: '30',
    // The supervisor reads it on every tick (a worker's heartbeat interval is fixed at its start).
    reload: 'live',
  }),
  seconds('gracefulTimeout', {
    flag: 'graceful-timeout',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'how long a draining worker may finish its requests before SIGKILL',
    default: () => 30,
    defaultDoc: '30',
    reload: 'live',
  }),
  seconds('bootTimeout', {
    flag: 'boot-timeout',
    metavar: 'SECONDS',
    min: 0.1,
    max: 86400,
    doc: 'how long a new worker may take to load the app and listen',
    default: () => 30,
    defaultDoc: '30',
    reload: 'live',
  }),
  int('maxRequests', {
    flag: 'max-requests',
    metavar: 'N',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'recycle a worker after this many requests; 0 disables',
    default: () => 0,
    defaultDoc: '0',
    // A worker counts toward the limit it was given when it started.
    reload: 'new-workers',
  }),
  int('maxRequestsJitter', {
    flag: 'max-requests-jitter',
    metavar: 'N',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'add a random 0..N to max-requests per worker, so they do not recycle together',
    default: () => 0,
    defaultDoc: '0',
    reload: 'new-workers',
  }),
  int('maxWorkers', {
    flag: 'max-workers',
    metavar: 'N',
    min: 1,
    max: 1024,
    doc: 'ceiling for scaling up (TTIN, the + key)',
    default: () => 64,
    defaultDoc: '64, or workers if higher',
    reload: 'live',
  }),
  list('nodeArg', {
    flag: 'node-arg',
    metavar: 'FLAG',
    doc: "a flag for the workers' node, e.g. --max-old-space-size=512 (repeatable)",
    default: () => [],
    defaultDoc: 'none',
    reload: 'new-workers',
  }),
  flag('balance', {
    flag: 'no-balance',
    doc: "leave keep-alive connections where the kernel put them (by default a worker above its share of the pool's connections answers Connection: close at the end of a response, so the client reconnects and may land on another worker)",
    default: () => true,
    defaultDoc: 'balanced',
    reload: 'live',
  }),
  flag('tui', {
    flag: 'no-tui',
    doc: 'log lines instead of the dashboard, even in a terminal',
    default: () => true,
    defaultDoc: 'dashboard when stdout is a terminal',
    reload: 'restart',
  }),
  optionalText('logFile', {
    flag: 'log-file',
    metavar: 'PATH',
    doc: 'append the log to this file instead of stdout (reopened on SIGUSR1)',
    default: () => null,
    defaultDoc: 'stdout',
    reload: 'restart',
  }),
  text('logFormat', {
    flag: 'log-format',
    metavar: 'FORMAT',
    pattern: { re: /^(text|json)$/, expected: 'text or json' },
    doc: 'text: lines for people; json: one object per line, every typed event with its details',
    default: () => 'text',
    defaultDoc: 'text',
    reload: 'restart',
  }),
  text('name', {
    flag: 'name',
    metavar: 'NAME',
    pattern: { re: /^[A-Za-z0-9_.-]{1,64}$/, expected: 'letters, digits, _ . or -, at most 64' },
    doc: 'name of this instance: names its control socket, so `gsup status --name NAME` finds it',
    default: () => 'default',
    defaultDoc: 'default',
    reload: 'restart',
  }),
  optionalText('control', {
    flag: 'control',
    metavar: 'PATH',
    doc: 'the control socket path',
    default: () => null,
    defaultDoc: '$XDG_RUNTIME_DIR/gsup/NAME.sock, else ~/.gsup/NAME.sock',
    reload: 'restart',
  }),
  flag('controlEnabled', {
    flag: 'no-control',
    doc: 'no control socket (gsup status, scale, reload, stop and top cannot reach this instance)',
    default: () => true,
    defaultDoc: 'enabled',
    reload: 'restart',
  }),
  optionalText('pidfile', {
    flag: 'pidfile',
    metavar: 'PATH',
    doc: 'write the supervisor pid here; refuse to start if it names a live process',
    default: () => null,
    defaultDoc: 'none',
    reload: 'restart',
  }),
  optionalText('config', {
    flag: 'config',
    short: 'c',
    metavar: 'FILE',
    doc: 'the config file (JS or JSON); re-read on every reload',
    default: () => null,
    defaultDoc: 'the first of gsup.config.{js,mjs,cjs,json} here',
    cliOnly: true,
    // Without -c, every reload looks for the first gsup.config.* again.
    reload: 'live',
  }),
  optionalText('user', {
    flag: 'user',
    metavar: 'USER',
    doc: 'run the workers as this user (name or uid); gsup binds first, so it may bind port 80 as root',
    default: () => null,
    defaultDoc: 'the current user',
    reload: 'new-workers',
  }),
  optionalText('group', {
    flag: 'group',
    metavar: 'GROUP',
    doc: 'run the workers as this group (name or gid)',
    default: () => null,
    defaultDoc: "the user's group",
    reload: 'new-workers',
  }),
  optionalMode('umask', {
    flag: 'umask',
    metavar: 'MODE',
    doc: 'the file mode creation mask, in octal (e.g. 027), for gsup and its workers',
    default: () => null,
    defaultDoc: 'inherited',
    // gsup sets its own umask once at start; workers inherit it.
    reload: 'restart',
  }),
  optionalText('chdir', {
    flag: 'chdir',
    metavar: 'DIR',
    doc: 'change to this directory before loading the app',
    default: () => null,
    defaultDoc: 'the current directory',
    // gsup changes its own directory once at start; workers start in it.
    reload: 'restart',
  }),
  list('env', {
    flag: 'env',
    metavar: 'KEY=VALUE',
    pattern: { re: /^[A-Za-z_][A-Za-z0-9_]*=/, expected: 'KEY=VALUE' },
    doc: "set a variable in the workers' environment (repeatable)",
    default: () => [],
    defaultDoc: 'none',
    reload: 'new-workers',
  }),
];

/** Any one of the settings above, with its own key and value type. */
export type AnySetting = (typeof SETTINGS)[number];

/** The whole configuration: one entry per setting, typed by the helper that declared it. */
export type Config = { [S in AnySetting as S['key']]: ReturnType<S['default']> };

/** Each setting by key, its value type paired with that key: generic code over K keeps them paired. */
export type SettingFor = { [K in keyof Config]: Setting<K, Config[K]> };

/** True when every setting has a value (null counts; a missing key does not). */
export function isComplete(values: Partial<Config>): values is Config {
  return SETTINGS.every((s) => values[s.key] !== undefined);
}

/** Sets one setting's default into a partial config. */
export function setDefault<K extends keyof Config>(
  into: Partial<Config>,
  s: SettingFor[K],
  env: Env,
): void {
  into[s.key] = s.default(env);
}

/** Every setting's default, as read from `env` (WEB_CONCURRENCY, PORT). */
export function defaults(env: Env): Config {
  const values: Partial<Config> = {};
  for (const s of SETTINGS) setDefault(values, s, env);
  if (!isComplete(values)) throw new Error('a setting has no default');
  return values;
}

// ---- hooks --------------------------------------------------------------------------------------

/** A hook a JS config file may export, and the typed event that calls it (none: gsup start does). */
export interface Hook<N extends string = string, E extends EventType = EventType> {
  name: N;
  doc: string;
  event: E | null;
}

function hook<const N extends string, const E extends EventType = never>(
  name: N,
  doc: string,
  event?: E,
): Hook<N, E> {
  return { name, doc, event: event ?? null };
}

/** Hooks a JS config file may export; each gets a read-only snapshot of the pool, with `event`. */
export const HOOKS = [
  hook('onStarting', 'before gsup binds or starts a worker; if it throws, gsup does not start'),
  hook('onReady', 'once, when the first workers are all ready (event: workers)', 'pool-ready'),
  hook('onReload', 'when a reload ends, done or not (event: ok, outcome, message)', 'reload-end'),
  hook('onWorkerSpawn', 'a worker process started (event: pid, slot, gen)', 'worker-spawn'),
  hook('onWorkerReady', 'a worker is ready to serve (event: pid, slot, bootMs)', 'worker-ready'),
  hook(
    'onWorkerExit',
    'a worker exited (event: pid, slot, code, signal, cause, reason)',
    'worker-exit',
  ),
  hook('onScale', 'the wanted worker count changed (event: from, to)', 'scale'),
  hook('onStop', 'gsup stopped (event: code)', 'stopped'),
];

export type HookName = (typeof HOOKS)[number]['name'];

/** The typed events a hook can follow (src/events.ts). */
export type HookEvent = NonNullable<(typeof HOOKS)[number]['event']>;
