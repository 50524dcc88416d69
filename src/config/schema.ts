// Every setting, defined exactly once: its name, type, default, flag, environment variable and
// one-line doc. Parsing, validation and the help text are all derived from this list.

import { availableParallelism } from 'node:os';

export interface Config {
  workers: number;
  bind: string[];
  backlog: number;
  timeout: number;
  gracefulTimeout: number;
  bootTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  maxWorkers: number;
  nodeArg: string[];
  tui: boolean;
  logFile: string | null;
  logFormat: string;
  name: string;
  control: string | null;
  controlEnabled: boolean;
  pidfile: string | null;
  config: string | null;
  user: string | null;
  group: string | null;
  umask: number | null;
  chdir: string | null;
  env: string[];
}

export type SettingType = 'int' | 'seconds' | 'string' | 'list' | 'flag' | 'octal';
type Env = Record<string, string | undefined>;

export interface Setting {
  key: keyof Config;
  /** The long flag, without the dashes. */
  flag: string;
  short?: string;
  type: SettingType;
  /** Shown in help, e.g. `N`, `ADDRESS`, `SECONDS`. */
  metavar?: string;
  min?: number;
  max?: number;
  /** For strings: the form a value must have, and how to say it. */
  pattern?: { re: RegExp; expected: string };
  doc: string;
  /** The default, which may read the environment (WEB_CONCURRENCY, PORT). */
  default: (env: Env) => Config[keyof Config];
  /** How the default reads in help. */
  defaultDoc: string;
  /** The environment variable that sets the default, if any (as in Gunicorn). */
  envVar?: string;
  /** Only on the command line (or GSUP_CMD_ARGS): not a config file key. */
  cliOnly?: boolean;
}

export const SETTINGS: Setting[] = [
  {
    key: 'workers',
    flag: 'workers',
    short: 'w',
    type: 'int',
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
  },
  {
    key: 'bind',
    flag: 'bind',
    short: 'b',
    type: 'list',
    metavar: 'ADDRESS',
    doc: 'where to listen: HOST:PORT, :PORT, [::1]:PORT, unix:/PATH or fd://N (repeatable)',
    default: (env) => (env.PORT ? [`0.0.0.0:${env.PORT}`] : ['127.0.0.1:8000']),
    defaultDoc: '127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set',
    envVar: 'PORT',
  },
  {
    key: 'backlog',
    flag: 'backlog',
    type: 'int',
    metavar: 'N',
    min: 1,
    max: 65535,
    doc: 'the listen queue length',
    default: () => 2048,
    defaultDoc: '2048',
  },
  {
    key: 'timeout',
    flag: 'timeout',
    short: 't',
    type: 'seconds',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'kill a worker silent for this long (its stack is logged); 0 disables',
    default: () => 30,
    defaultDoc: '30',
  },
  {
    key: 'gracefulTimeout',
    flag: 'graceful-timeout',
    type: 'seconds',
    metavar: 'SECONDS',
    min: 0,
    max: 86400,
    doc: 'how long a draining worker may finish its requests before SIGKILL',
    default: () => 30,
    defaultDoc: '30',
  },
  {
    key: 'bootTimeout',
    flag: 'boot-timeout',
    type: 'seconds',
    metavar: 'SECONDS',
    min: 0.1,
    max: 86400,
    doc: 'how long a new worker may take to load the app and listen',
    default: () => 30,
    defaultDoc: '30',
  },
  {
    key: 'maxRequests',
    flag: 'max-requests',
    type: 'int',
    metavar: 'N',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'recycle a worker after this many requests; 0 disables',
    default: () => 0,
    defaultDoc: '0',
  },
  {
    key: 'maxRequestsJitter',
    flag: 'max-requests-jitter',
    type: 'int',
    metavar: 'N',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'add a random 0..N to max-requests per worker, so they do not recycle together',
    default: () => 0,
    defaultDoc: '0',
  },
  {
    key: 'maxWorkers',
    flag: 'max-workers',
    type: 'int',
    metavar: 'N',
    min: 1,
    max: 1024,
    doc: 'ceiling for scaling up (TTIN, the + key)',
    default: () => 64,
    defaultDoc: '64, or workers if higher',
  },
  {
    key: 'nodeArg',
    flag: 'node-arg',
    type: 'list',
    metavar: 'FLAG',
    doc: "a flag for the workers' node, e.g. --max-old-space-size=512 (repeatable)",
    default: () => [],
    defaultDoc: 'none',
  },
  {
    key: 'tui',
    flag: 'no-tui',
    type: 'flag',
    doc: 'log lines instead of the dashboard, even in a terminal',
    default: () => true,
    defaultDoc: 'dashboard when stdout is a terminal',
  },
  {
    key: 'logFile',
    flag: 'log-file',
    type: 'string',
    metavar: 'PATH',
    doc: 'append the log to this file instead of stdout (reopened on SIGUSR1)',
    default: () => null,
    defaultDoc: 'stdout',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    type: 'string',
    metavar: 'FORMAT',
    pattern: { re: /^(text|json)$/, expected: 'text or json' },
    doc: 'text: lines for people; json: one object per line, every typed event with its details',
    default: () => 'text',
    defaultDoc: 'text',
  },
  {
    key: 'name',
    flag: 'name',
    type: 'string',
    metavar: 'NAME',
    pattern: { re: /^[A-Za-z0-9_.-]{1,64}$/, expected: 'letters, digits, _ . or -, at most 64' },
    doc: 'name of this instance: names its control socket, so `gsup status --name NAME` finds it',
    default: () => 'default',
    defaultDoc: 'default',
  },
  {
    key: 'control',
    flag: 'control',
    type: 'string',
    metavar: 'PATH',
    doc: 'the control socket path',
    default: () => null,
    defaultDoc: '$XDG_RUNTIME_DIR/gsup/NAME.sock, else ~/.gsup/NAME.sock',
  },
  {
    key: 'controlEnabled',
    flag: 'no-control',
    type: 'flag',
    doc: 'no control socket (gsup status, scale, reload, stop and top cannot reach this instance)',
    default: () => true,
    defaultDoc: 'enabled',
  },
  {
    key: 'pidfile',
    flag: 'pidfile',
    type: 'string',
    metavar: 'PATH',
    doc: 'write the supervisor pid here; refuse to start if it names a live process',
    default: () => null,
    defaultDoc: 'none',
  },
  {
    key: 'config',
    flag: 'config',
    short: 'c',
    type: 'string',
    metavar: 'FILE',
    doc: 'the config file (JS or JSON); re-read on every reload',
    default: () => null,
    defaultDoc: 'the first of gsup.config.{js,mjs,cjs,json} here',
    cliOnly: true,
  },
  {
    key: 'user',
    flag: 'user',
    type: 'string',
    metavar: 'USER',
    doc: 'run the workers as this user (name or uid); gsup binds first, so it may bind port 80 as root',
    default: () => null,
    defaultDoc: 'the current user',
  },
  {
    key: 'group',
    flag: 'group',
    type: 'string',
    metavar: 'GROUP',
    doc: 'run the workers as this group (name or gid)',
    default: () => null,
    defaultDoc: "the user's group",
  },
  {
    key: 'umask',
    flag: 'umask',
    type: 'octal',
    metavar: 'MODE',
    doc: 'the file mode creation mask, in octal (e.g. 027), for gsup and its workers',
    default: () => null,
    defaultDoc: 'inherited',
  },
  {
    key: 'chdir',
    flag: 'chdir',
    type: 'string',
    metavar: 'DIR',
    doc: 'change to this directory before loading the app',
    default: () => null,
    defaultDoc: 'the current directory',
  },
  {
    key: 'env',
    flag: 'env',
    type: 'list',
    metavar: 'KEY=VALUE',
    pattern: { re: /^[A-Za-z_][A-Za-z0-9_]*=/, expected: 'KEY=VALUE' },
    doc: "set a variable in the workers' environment (repeatable)",
    default: () => [],
    defaultDoc: 'none',
  },
];

/** Hooks a JS config file may export; each gets a read-only snapshot of the pool. */
export const HOOKS = [
  'onStarting',
  'onReady',
  'onReload',
  'onWorkerSpawn',
  'onWorkerReady',
  'onWorkerExit',
  'onScale',
  'onStop',
] as const;
export type HookName = (typeof HOOKS)[number];
