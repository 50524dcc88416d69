// Every setting and every hook, defined exactly once: name, type, default, flag, environment
// variable, one-line doc, how a reload applies it. The Config type, parsing, validation, the help
// text, `gsup check` and the README's tables are all derived from these lists.

import { availableParallelism } from 'node:os';
import { DEFAULT_ACCESS_FORMAT } from '../access-format.js';
import type { EventType } from '../events.js';

type Env = Record<string, string | undefined>;

export type SettingType = 'int' | 'seconds' | 'string' | 'list' | 'flag' | 'octal' | 'size';

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

/** `env`: KEY=VALUE strings, or (in a config file) an object `{ NODE_ENV: 'production' }`. */
function toEnvList(value: unknown, rules: Rules, bad: Bad): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return toList(value, rules, bad);
  }
  return Object.entries(value).map(([key, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) bad('variable names like NODE_ENV', key);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      bad(`a string, number or boolean for ${key}`, v);
    }
    return `${key}=${String(v)}`;
  });
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

/** Multipliers of a size's suffix: binary, as PM2's and uWSGI's memory limits read them. */
const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** A size in bytes from `512M`, `1G`, `1.5G`, `800K` or a number of bytes. */
function toSize(value: unknown, rules: Rules, bad: Bad): number {
  const text =
    typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$/i.exec(text);
  const bytes = m ? Math.round(Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1)) : NaN;
  const min = rules.min ?? 0;
  const max = rules.max ?? Number.MAX_SAFE_INTEGER;
  if (!m || !(bytes >= min && bytes <= max)) {
    bad(
      `a size like 512M or 1G (K, M, G = 1024, 1024², 1024³ bytes), from ${sizeText(min)} to ${sizeText(max)}`,
    );
  }
  return bytes;
}

/** Bytes as the largest whole unit: 32M, 1G, 4096. */
export function sizeText(bytes: number): string {
  for (const unit of ['G', 'M', 'K']) {
    const n = SIZE_UNITS[unit] ?? 1;
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

const int = kind('int', toNumber(/^\d+$/, 'a whole number'));
const seconds = kind('seconds', toNumber(/^\d+(\.\d+)?$/, 'a number of seconds'));
const text = kind<string>('string', toText);
const optionalText = kind<string | null>('string', toText);
const list = kind('list', toList);
const envList = kind('list', toEnvList);
const flag = kind('flag', toFlag);
const optionalMode = kind<number | null>('octal', toMode);
const optionalSize = kind<number | null>('size', toSize);

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
    doc: 'ceiling for scaling up (TTIN, the + key, autoscale)',
    default: () => 64,
    defaultDoc: '64, or workers if higher; autoscale stops at 2 × CPUs unless it is given',
    reload: 'live',
  }),
  flag('autoscale', {
    flag: 'autoscale',
    doc: 'add workers when the pool is saturated or connections queue, remove one after a quiet spell (the a key toggles it)',
    default: () => false,
    defaultDoc: 'off',
    // A reload applies it only when the config changed it; a toggle at run time is kept otherwise.
    reload: 'live',
  }),
  int('minWorkers', {
    flag: 'min-workers',
    metavar: 'N',
    min: 1,
    max: 1024,
    doc: 'with --autoscale: never fewer workers than this',
    default: () => 1,
    defaultDoc: '1',
    reload: 'live',
  }),
  seconds('scaleUpAfter', {
    flag: 'scale-up-after',
    metavar: 'SECONDS',
    min: 0.5,
    max: 3600,
    doc: 'with --autoscale: the window read to add workers (saturated on average, or connections queued in half its samples)',
    default: () => 3,
    defaultDoc: '3',
    reload: 'live',
  }),
  seconds('scaleDownAfter', {
    flag: 'scale-down-after',
    metavar: 'SECONDS',
    min: 1,
    max: 86400,
    doc: 'with --autoscale: remove one worker once the pool has been quiet this long',
    default: () => 30,
    defaultDoc: '30',
    reload: 'live',
  }),
  seconds('scaleCooldown', {
    flag: 'scale-cooldown',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'with --autoscale: after any change of the worker count, no other for this long',
    default: () => 5,
    defaultDoc: '5',
    reload: 'live',
  }),
  optionalSize('maxWorkerMemory', {
    flag: 'max-worker-memory',
    metavar: 'SIZE',
    // Below this a Node worker is over the limit from its first breath: it would recycle forever.
    min: 32 * 1024 ** 2,
    max: 1024 ** 4,
    doc: 'recycle a worker (its replacement ready first) whose RSS stays above SIZE, e.g. 512M or 1G',
    default: () => null,
    defaultDoc: 'off',
    reload: 'live',
  }),
  seconds('minWorkerAge', {
    flag: 'min-worker-age',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'with --max-worker-memory: a worker is not recycled for memory before it has served this long',
    default: () => 60,
    defaultDoc: '60',
    reload: 'live',
  }),
  text('workerClass', {
    flag: 'worker-class',
    short: 'k',
    metavar: 'CLASS',
    pattern: { re: /^(node|wsgi|exec)$/, expected: 'node, wsgi or exec' },
    doc: 'what the workers run: node (APP is a JS module), wsgi (APP is a Python module:variable), exec (APP is a command line that accepts on fd 3)',
    default: () => 'node',
    defaultDoc: 'node',
    reload: 'new-workers',
  }),
  text('python', {
    flag: 'python',
    metavar: 'PYTHON',
    doc: 'the Python interpreter of wsgi workers (Python 3.9 or later)',
    default: () => 'python3',
    defaultDoc: 'python3',
    reload: 'new-workers',
  }),
  optionalText('readyPattern', {
    flag: 'ready-pattern',
    metavar: 'REGEX',
    doc: 'exec workers: ready once a line of their output matches this; without it, once alive for 1 s',
    default: () => null,
    defaultDoc: 'none',
    reload: 'new-workers',
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
  optionalText('accessLog', {
    flag: 'access-log',
    metavar: 'PATH',
    doc: 'workers append one line per request to this file (- for stdout); reopened on SIGUSR1',
    default: () => null,
    defaultDoc: 'off',
    reload: 'new-workers',
  }),
  text('accessLogFormat', {
    flag: 'access-logformat',
    metavar: 'FORMAT',
    doc: "Gunicorn's atoms, e.g. '%(h)s %(t)s \"%(r)s\" %(s)s %(b)s %(D)s', or json",
    default: () => DEFAULT_ACCESS_FORMAT,
    defaultDoc: 'the Common Log Format with referer and user agent',
    reload: 'new-workers',
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
  optionalText('metrics', {
    flag: 'metrics',
    metavar: 'ADDRESS',
    pattern: {
      re: /^(unix:\/.+|(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]*):\d{1,5})$/,
      expected: 'HOST:PORT, :PORT, [IPv6]:PORT or unix:/PATH',
    },
    doc: 'serve Prometheus metrics (/metrics) and health checks (/healthz, /readyz) here, from the supervisor',
    default: () => null,
    defaultDoc: 'off',
    // The supervisor opens this server once, at start.
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
  envList('env', {
    flag: 'env',
    metavar: 'KEY=VALUE',
    pattern: { re: /^[A-Za-z_][A-Za-z0-9_]*=/, expected: 'KEY=VALUE' },
    doc: "set a variable in the workers' environment (repeatable; in a config file also { KEY: 'value' })",
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
