// The one command table. Every action on a running pool is one row: its doc, its arguments, and
// each door that reaches it (signals, dashboard keys, the control socket, the CLI verb). The
// signal wiring, the dashboard's keys, footer and help, the control socket's handlers, the CLI
// verbs and their help, and the README's steering table are all read off this table: a new
// command is one new row. A shared root module: it imports no view and only the pure scale policy.

import type { WorkerOutput } from './events.js';
import { type AutoscaleResult, parseScale, type ScaleRequest, type ScaleResult } from './scale.js';

type MaybePromise<T> = T | Promise<T>;

/** What the commands call: the supervisor, or a client of its control socket (gsup top). */
export interface Pool {
  scale(req: ScaleRequest): MaybePromise<ScaleResult>;
  reload(): Promise<{ ok: boolean; message: string }>;
  stop(opts?: { quick?: boolean }): unknown;
  recycle(pid: number, why?: string): MaybePromise<boolean>;
  kill(pid: number): MaybePromise<boolean>;
  /** Autoscaling on, off, or the other way; absent on a door that cannot reach it. */
  autoscale?(on: boolean | 'toggle'): MaybePromise<AutoscaleResult>;
  /** The snapshot `status` answers with; a remote pool has none to give synchronously. */
  snapshot?(): unknown;
  /** USR1: the log file is the CLI's, not the pool's; absent where there is none. */
  reopenLogs?(): void;
  /** USR2: re-execute gsup itself, sockets inherited; absent where there is no supervisor to upgrade. */
  upgrade?(): Promise<{ ok: boolean; message: string; newPid: number | null }>;
  /** The newest lines of worker output, with their times (`gsup logs`); absent where none are kept. */
  recentOutput?(): Array<WorkerOutput & { at: number }>;
}

/** Which door a command came through; a few commands word their log line by it. */
export type Door = 'signal' | 'key' | 'control';

/** A command's answer, as the control socket replies it. */
export type Outcome = { ok: true; result: unknown } | { ok: false; error: string };

/** A signal and the arguments it means. */
export interface SignalBinding<A> {
  signal: NodeJS.Signals;
  args: A;
  /** Short, for `gsup --help` and the README: "one worker more". */
  what: string;
}

/** What a dashboard key can act on. */
export interface KeyContext {
  /** The worker selected in the table. */
  selected: { pid: number; slot: number | string } | null;
  /** A graceful stop was asked already: q again means quick. */
  stopping: boolean;
}

/** Dashboard keys and the arguments they mean. */
export interface KeyBinding<A> {
  /** Typed characters ("+") or blessed key names ("C-c"). */
  keys: string[];
  /** How the keys are shown in help and docs; default the keys themselves. */
  label?: string;
  /** The `?` help line; none when another binding's line covers it. */
  help?: string;
  /** The arguments, or null when there is nothing to act on (no worker selected). */
  args(ctx: KeyContext): A | null;
  /** The line echoed into the dashboard's log. */
  note(ctx: KeyContext): string;
}

/** A CLI verb: its usage, flags and how its argv becomes the command's arguments. */
export interface VerbSpec<A> {
  verb: string;
  usage: string;
  /** For `gsup --help`. */
  doc: string;
  flags: Record<string, { type: 'boolean' | 'string'; doc: string; short?: string }>;
  /** How many positional arguments: [min, max]. */
  positionals: [number, number];
  /** Other tools' words for this verb (`restart`): `gsup restart` is pointed here. */
  insteadOf?: string[];
  /** Parsed argv → arguments, or a one-line usage error. */
  args(values: Record<string, string | boolean | undefined>, positionals: string[]): A | string;
}

/** One row of the table. */
export interface CommandSpec<A> {
  /** The control socket's `cmd`, and the name in the docs. */
  name: string;
  /** One line: what it does. */
  doc: string;
  /** Its arguments as the control socket takes them (JSON fields), '' for none. */
  args: string;
  signals?: Array<SignalBinding<A>>;
  keys?: Array<KeyBinding<A>>;
  /** The dashboard footer's entry, one per command however many keys. */
  footer?: { keys: string; label: string };
  cli?: VerbSpec<A>;
  /** Reachable over the control socket (USR1's reopen is not: the log file is the terminal's). */
  control: boolean;
  /** After its reply the connection becomes a stream of snapshots and events (subscribe). */
  streams?: boolean;
  /** A control request's fields → arguments, or a one-line error naming the field and value. */
  parse(req: Record<string, unknown>): A | string;
  /** Arguments → a control request's fields: what a remote door sends. */
  encode(args: A): Record<string, unknown>;
  /** Calls the pool. */
  run(pool: Pool, args: A, door: Door): MaybePromise<Outcome>;
}

/** A row with its argument type forgotten, as the doors hold them. */
export type Command = CommandSpec<unknown>;

type NoArgs = Record<string, never>;
const NONE: NoArgs = {};

/** Keeps a row's argument type checked where it is written. */
function command<A>(spec: CommandSpec<A>): Command {
  return spec;
}

function noArgs(): NoArgs {
  return NONE;
}

function shown(value: unknown): string {
  return JSON.stringify(value) ?? 'nothing';
}

/** A worker's pid from a control request, or the one-line error. */
function parsePid(name: string, req: Record<string, unknown>): { pid: number } | string {
  const pid = req.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) {
    return `${name}: expected "pid" as a worker's pid, got ${shown(pid)}`;
  }
  return { pid };
}

function found(name: string, pid: number, done: boolean): Outcome {
  return done
    ? { ok: true, result: { pid } }
    : { ok: false, error: `${name}: no live worker has pid ${pid}` };
}

/** `fn` of `value`, now if it is ready: a synchronous command's reply is written before the next. */
function settle<T, U>(value: MaybePromise<T>, fn: (v: T) => U): MaybePromise<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

function selectedPid(ctx: KeyContext): { pid: number } | null {
  return ctx.selected ? { pid: ctx.selected.pid } : null;
}

function worker(ctx: KeyContext): string {
  return `worker ${ctx.selected?.slot ?? '?'} (pid ${ctx.selected?.pid ?? '?'})`;
}

const status = command<NoArgs>({
  name: 'status',
  doc: 'the pool, one row per worker (`--json`: the whole snapshot)',
  args: '',
  cli: {
    verb: 'status',
    usage: 'gsup status [--json]',
    doc: 'the pool of a running gsup, as a table (--json: the snapshot)',
    flags: { json: { type: 'boolean', doc: 'print the snapshot as JSON' } },
    positionals: [0, 0],
    args: noArgs,
  },
  control: true,
  parse: noArgs,
  encode: () => ({}),
  run: (pool) =>
    pool.snapshot
      ? { ok: true, result: pool.snapshot() }
      : { ok: false, error: 'status: this door has no snapshot; use gsup status' },
});

const scale = command<ScaleRequest>({
  name: 'scale',
  doc: 'set the number of workers, or change it (never below 1, never above `--max-workers`)',
  args: '"to": N, "+N" or "-N"; or "by": ±N',
  signals: [
    { signal: 'SIGTTIN', args: { by: 1 }, what: 'one worker more' },
    { signal: 'SIGTTOU', args: { by: -1 }, what: 'one worker fewer' },
  ],
  keys: [
    {
      keys: ['+', '='],
      help: 'one worker more (up to max-workers)',
      args: () => ({ by: 1 }),
      note: () => 'key +: one worker more',
    },
    {
      keys: ['-', '_'],
      help: 'one worker fewer (never below 1)',
      args: () => ({ by: -1 }),
      note: () => 'key -: one worker fewer',
    },
  ],
  footer: { keys: '+/-', label: 'scale' },
  cli: {
    verb: 'scale',
    usage: 'gsup scale N | +N | -N',
    doc: 'gsup scale 8 | +2 | -1: change the worker count',
    flags: {},
    positionals: [1, 1],
    args: (_values, [arg]) =>
      parseScale(arg) ?? `scale: expected N, +N or -N, got ${shown(arg)} (usage: gsup scale 8)`,
  },
  control: true,
  parse: (req) => {
    if ('by' in req) {
      const by = req.by;
      return typeof by === 'number' && Number.isInteger(by)
        ? { by }
        : `scale: expected "by" as a whole number like 1 or -2, got ${shown(by)}`;
    }
    return parseScale(req.to) ?? `scale: expected "to" as N, "+N" or "-N", got ${shown(req.to)}`;
  },
  encode: (req) => ({ ...req }),
  run: (pool, req) =>
    settle(pool.scale(req), (r) =>
      r.ok
        ? { ok: true, result: { from: r.from, target: r.to } }
        : { ok: false, error: `scale: ${r.error}` },
    ),
});

const reload = command<NoArgs>({
  name: 'reload',
  doc: 'graceful rolling reload: new code, old workers drain once new ones are ready, zero dropped requests',
  args: '',
  signals: [{ signal: 'SIGHUP', args: NONE, what: 'graceful reload' }],
  keys: [
    {
      keys: ['r'],
      help: 'graceful rolling reload (new code; old workers drain once new ones are ready)',
      args: noArgs,
      note: () => 'key r: graceful reload',
    },
  ],
  footer: { keys: 'r', label: 'reload' },
  cli: {
    verb: 'reload',
    usage: 'gsup reload',
    doc: 'graceful rolling reload; waits for done or rolled back',
    insteadOf: ['restart'],
    flags: {},
    positionals: [0, 0],
    args: noArgs,
  },
  control: true,
  parse: noArgs,
  encode: () => ({}),
  run: async (pool) => {
    const r = await pool.reload();
    return r.ok ? { ok: true, result: r } : { ok: false, error: r.message };
  },
});

const stop = command<{ quick: boolean }>({
  name: 'stop',
  doc: 'graceful stop (drain, then exit 0); a quick stop (`q` twice, Ctrl-C, `--quick`) makes the workers exit now',
  args: '"quick": true',
  signals: [
    { signal: 'SIGTERM', args: { quick: false }, what: 'graceful stop' },
    { signal: 'SIGINT', args: { quick: true }, what: 'quick stop' },
    { signal: 'SIGQUIT', args: { quick: true }, what: 'quick stop' },
  ],
  keys: [
    {
      keys: ['q'],
      help: 'graceful stop; q again or Ctrl-C: quick stop',
      args: (ctx) => ({ quick: ctx.stopping }),
      note: (ctx) =>
        ctx.stopping
          ? 'quick stop: workers exit now'
          : 'key q: graceful stop (q again or Ctrl-C: quick stop)',
    },
    {
      keys: ['C-c'],
      label: 'Ctrl-C',
      args: () => ({ quick: true }),
      note: () => 'quick stop: workers exit now',
    },
  ],
  footer: { keys: 'q', label: 'stop' },
  cli: {
    verb: 'stop',
    usage: 'gsup stop [--quick]',
    doc: 'graceful stop (--quick: workers exit now)',
    flags: { quick: { type: 'boolean', doc: 'workers exit now instead of draining' } },
    positionals: [0, 0],
    args: (values) => ({ quick: values.quick === true }),
  },
  control: true,
  parse: (req) => ({ quick: req.quick === true }),
  encode: (args) => ({ quick: args.quick }),
  run: (pool, args) => {
    void pool.stop({ quick: args.quick });
    return { ok: true, result: { stopping: args.quick ? 'quick' : 'graceful' } };
  },
});

const recycle = command<{ pid: number }>({
  name: 'recycle',
  doc: 'gracefully replace one worker: its replacement is ready before it stops accepting',
  args: '"pid": N',
  keys: [
    {
      keys: ['k'],
      help: 'recycle the selected worker (its replacement is ready first)',
      args: selectedPid,
      note: (ctx) => `key k: recycle ${worker(ctx)}`,
    },
  ],
  footer: { keys: 'k', label: 'recycle' },
  control: true,
  parse: (req) => parsePid('recycle', req),
  encode: (args) => ({ pid: args.pid }),
  run: (pool, { pid }, door) =>
    settle(
      pool.recycle(pid, door === 'control' ? 'asked over the control socket' : 'asked'),
      (done) => found('recycle', pid, done),
    ),
});

const kill = command<{ pid: number }>({
  name: 'kill',
  doc: 'SIGKILL one worker, on request; the pool spawns its replacement',
  args: '"pid": N',
  keys: [
    {
      keys: ['K'],
      help: 'SIGKILL the selected worker (a replacement is spawned)',
      args: selectedPid,
      note: (ctx) => `key K: SIGKILL ${worker(ctx)}`,
    },
  ],
  footer: { keys: 'K', label: 'kill' },
  control: true,
  parse: (req) => parsePid('kill', req),
  encode: (args) => ({ pid: args.pid }),
  run: (pool, { pid }) => settle(pool.kill(pid), (done) => found('kill', pid, done)),
});

const autoscale = command<{ on: boolean | 'toggle' }>({
  name: 'autoscale',
  doc: 'turn autoscaling on or off: workers between `--min-workers` and `--max-workers`, by utilization, the accept queue and event-loop lag',
  args: '"on": true, false or "toggle"',
  keys: [
    {
      keys: ['a'],
      help: 'autoscale on / off (between min-workers and max-workers)',
      args: () => ({ on: 'toggle' }),
      note: () => 'key a: autoscale on / off',
    },
  ],
  cli: {
    verb: 'autoscale',
    usage: 'gsup autoscale on|off',
    doc: 'gsup autoscale on | off: let the pool size itself, or stop it',
    flags: {},
    positionals: [1, 1],
    args: (_values, [arg]) =>
      arg === 'on'
        ? { on: true }
        : arg === 'off'
          ? { on: false }
          : `autoscale: expected on or off, got ${shown(arg)} (usage: gsup autoscale on)`,
  },
  control: true,
  parse: (req) => {
    const on = req.on;
    if (on === true || on === 'on') return { on: true };
    if (on === false || on === 'off') return { on: false };
    if (on === 'toggle') return { on: 'toggle' };
    return `autoscale: expected "on" as true, false or "toggle", got ${shown(on)}`;
  },
  encode: (args) => ({ on: args.on }),
  run: (pool, { on }) => {
    if (!pool.autoscale) return { ok: false, error: 'autoscale: this door cannot reach the pool' };
    return settle(pool.autoscale(on), (r) =>
      r.ok
        ? { ok: true, result: { enabled: r.enabled, min: r.min, max: r.max, workers: r.workers } }
        : { ok: false, error: `autoscale: ${r.error}` },
    );
  },
});

const reopen = command<NoArgs>({
  name: 'reopen',
  doc: 'reopen the log file (after logrotate moved it)',
  args: '',
  signals: [{ signal: 'SIGUSR1', args: NONE, what: 'reopen the log file' }],
  control: false,
  parse: noArgs,
  encode: () => ({}),
  run: (pool) => {
    pool.reopenLogs?.();
    return { ok: true, result: {} };
  },
});

const upgrade = command<NoArgs>({
  name: 'upgrade',
  doc: 'upgrade gsup itself: a new gsup (the code now on disk, same command line) inherits the sockets and boots its workers; then this one drains and exits. If the new one cannot, this one keeps serving',
  args: '',
  signals: [{ signal: 'SIGUSR2', args: NONE, what: 'upgrade gsup itself' }],
  cli: {
    verb: 'upgrade',
    usage: 'gsup upgrade',
    doc: 'upgrade gsup itself without dropping a connection; waits for done or failed',
    flags: {},
    positionals: [0, 0],
    args: noArgs,
  },
  control: true,
  parse: noArgs,
  encode: () => ({}),
  run: async (pool) => {
    if (!pool.upgrade) return { ok: false, error: 'upgrade: this door cannot upgrade gsup' };
    const r = await pool.upgrade();
    return r.ok ? { ok: true, result: r } : { ok: false, error: r.message };
  },
});

const subscribe = command<NoArgs>({
  name: 'subscribe',
  doc: 'a stream of snapshots, events and worker output: the dashboard of a running (even headless) instance; `q` detaches',
  args: '',
  cli: {
    verb: 'top',
    usage: 'gsup top',
    doc: 'the live dashboard of a running gsup; q detaches',
    flags: {},
    positionals: [0, 0],
    args: noArgs,
  },
  control: true,
  streams: true,
  parse: noArgs,
  encode: () => ({}),
  run: () => ({ ok: true, result: { subscribed: true } }),
});

const logs = command<{ follow: boolean }>({
  name: 'logs',
  doc: 'the recent events and worker output, then a stream of new ones as `subscribe` gives (`gsup logs` without `-f` hangs up after the reply)',
  args: '',
  cli: {
    verb: 'logs',
    usage: 'gsup logs [-f] [--json]',
    doc: 'recent events and worker output of a running gsup; -f follows until it stops',
    insteadOf: ['log', 'tail'],
    flags: {
      follow: {
        type: 'boolean',
        short: 'f',
        doc: 'keep printing new lines until Ctrl-C or gsup stops',
      },
      json: { type: 'boolean', doc: 'one JSON object per line, as --log-format json' },
    },
    positionals: [0, 0],
    args: (values) => ({ follow: values.follow === true }),
  },
  control: true,
  streams: true,
  // Following is the client's choice (it stays connected); the socket's reply is the same.
  parse: () => ({ follow: false }),
  encode: () => ({}),
  run: (pool) => {
    const snap = pool.snapshot?.() as { events?: unknown[] } | undefined;
    return {
      ok: true,
      result: { events: snap?.events ?? [], output: pool.recentOutput?.() ?? [] },
    };
  },
});

const ls = command<NoArgs>({
  name: 'ls',
  doc: "the instances running for this user: each control socket in the control directory, asked for its pool (the CLI's own verb; no socket serves it)",
  args: '',
  cli: {
    verb: 'ls',
    usage: 'gsup ls [--json]',
    doc: 'the gsup instances running for this user: name, pid, app, workers, uptime, socket',
    insteadOf: ['list', 'ps'],
    flags: { json: { type: 'boolean', doc: 'print them as JSON' } },
    positionals: [0, 0],
    args: noArgs,
  },
  control: false,
  parse: noArgs,
  encode: () => ({}),
  run: () => ({ ok: false, error: 'ls: run it as gsup ls; it asks every instance, not one' }),
});

/** Every command, in the order help and docs list them. */
export const COMMANDS: readonly Command[] = [
  status,
  scale,
  reload,
  recycle,
  kill,
  autoscale,
  stop,
  reopen,
  upgrade,
  subscribe,
  logs,
  ls,
];

/** A signal no command answers, which gsup must still not die of: ignored on purpose, with why. */
export interface IgnoredSignal {
  signal: NodeJS.Signals;
  /** Why it is ignored, for the log line and the docs. */
  why: string;
  /** Said as a warning (someone meant something by it); otherwise a debug event only. */
  warn: boolean;
}

/**
 * Signals a supervisor may receive by mistake. Their default action would end gsup (ALRM,
 * VTALRM) or they mean nothing here (WINCH, PIPE); `gsup start` wires each to a typed
 * `signal-ignored` event instead.
 */
export const IGNORED_SIGNALS: readonly IgnoredSignal[] = [
  {
    signal: 'SIGWINCH',
    why: 'the dashboard takes resizes from its own terminal stream',
    warn: false,
  },
  {
    signal: 'SIGPIPE',
    why: 'a closed pipe or socket is reported where it is written',
    warn: false,
  },
  { signal: 'SIGALRM', why: 'gsup sets no alarm; a stray one must not end the pool', warn: true },
  {
    signal: 'SIGVTALRM',
    why: 'gsup sets no timer; a stray one must not end the pool',
    warn: true,
  },
];

/** Dashboard keys that only change the view; the dashboard acts on them itself. */
export const VIEW_KEYS = [
  { action: 'select', keys: ['up', 'down'], label: '↑ ↓', footer: '↑↓', help: 'select a worker' },
  {
    action: 'log',
    keys: ['l'],
    label: 'l',
    footer: 'l',
    help: 'focus the log; ↑ ↓ PgUp PgDn scroll it; l or Esc to leave',
  },
  { action: 'help', keys: ['?'], label: '?', footer: '?', help: 'this help' },
] as const;

/** The command a control request names, if the socket serves it. */
export function controlCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.control && c.name === name);
}

/** The names the control socket answers to. */
export function controlNames(): string[] {
  return COMMANDS.filter((c) => c.control).map((c) => c.name);
}

/** Runs a control request's command: its fields parsed, then the pool called. */
export function runRequest(
  cmd: Command,
  pool: Pool,
  req: Record<string, unknown>,
): MaybePromise<Outcome> {
  const args = cmd.parse(req);
  if (typeof args === 'string') return { ok: false, error: args };
  return cmd.run(pool, args, 'control');
}

/** Every signal with its command and arguments, for the wiring in `gsup start`. */
export function signalBindings(): Array<{ command: Command } & SignalBinding<unknown>> {
  return COMMANDS.flatMap((command) => (command.signals ?? []).map((s) => ({ command, ...s })));
}

/** Every dashboard key binding with its command. */
export function keyBindings(): Array<{ command: Command } & KeyBinding<unknown>> {
  return COMMANDS.flatMap((command) => (command.keys ?? []).map((k) => ({ command, ...k })));
}

/** The binding a key press means: a typed character first, then a key name (C-c). */
export function keyBinding(
  ch: string | undefined,
  name: string | undefined,
): ({ command: Command } & KeyBinding<unknown>) | undefined {
  const all = keyBindings();
  return (
    (ch === undefined ? undefined : all.find((b) => b.keys.includes(ch))) ??
    (name === undefined ? undefined : all.find((b) => b.keys.includes(name)))
  );
}

/** The command behind a CLI verb. */
export function verbCommand(verb: string): Command | undefined {
  return COMMANDS.find((c) => c.cli?.verb === verb);
}

/** One line for `gsup --help`: each signal and what it does. */
export function signalsHelp(): string {
  return signalBindings()
    .map((s) => `${s.signal.replace(/^SIG/, '')} ${s.what}`)
    .join(', ');
}

/** How a binding's keys are shown. */
export function keyLabel(b: { keys: readonly string[]; label?: string }): string {
  return b.label ?? b.keys.join('  ');
}
