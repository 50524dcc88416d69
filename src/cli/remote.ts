// The verbs that steer a running gsup over its control socket: status, scale, reload, stop
// and top. Each is a thin client: the supervisor does the work and says how it went.

import { parseArgs } from 'node:util';
import { type Command, verbCommand } from '../commands.js';
import { ConfigError, suggest } from '../config/parse.js';
import { SETTINGS } from '../config/schema.js';
import { ControlClient, NotRunningError, type RequestBody } from '../control/client.js';
import { controlPath } from '../control/paths.js';
import { autoscaleLine } from '../dashboard/adapt.js';
import type { PoolCommands, PoolSource } from '../dashboard/dashboard.js';
import { columnsFor, headerLines, plain, tableHeader, tableRow } from '../dashboard/format.js';
import type { PoolEvent, WorkerOutput } from '../events.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { PoolSnapshot } from '../supervisor/snapshot.js';
import type { ReloadResult } from '../supervisor/supervisor.js';
import { runningNames } from './instances.js';
import { Logger } from './logger.js';
import { type Follow, RemoteFeed, type View } from './remote-feed.js';
import { statusView } from './status-json.js';

const COMMON = {
  name: { type: 'string', doc: 'the instance to talk to (default: default)' },
  control: { type: 'string', doc: 'its control socket path' },
  help: { type: 'boolean', doc: 'show this help' },
} as const;

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  /** The command's arguments, from its row's verb spec. */
  args: unknown;
  path: string;
  name: string;
}

function parseVerb(verb: string, argv: string[]): Parsed | string {
  const spec = verbCommand(verb)?.cli;
  if (!spec) throw new Error(`no such verb ${verb}`);
  const flags = { ...COMMON, ...spec.flags };
  const options = Object.fromEntries(
    Object.entries(flags).map(([k, v]) => [
      k,
      { type: v.type, ...('short' in v && v.short ? { short: v.short } : {}) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    // `gsup scale -1`: a negative count is the argument, not a flag.
    const counts = verb === 'scale' ? argv.filter((a) => /^-\d+$/.test(a)) : [];
    const args = argv.filter((a) => !counts.includes(a));
    parsed = parseArgs({ args, options: options as never, allowPositionals: true, strict: true });
    parsed.positionals = [...counts, ...parsed.positionals];
  } catch (err) {
    const msg = (err as Error).message;
    const opt = /'(--?[^']+)'/.exec(msg)?.[1];
    if (opt && (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const guess = suggest(opt.replace(/^-+/, ''), Object.keys(flags));
      return `${verb}: unknown option ${opt}${guess ? `; did you mean --${guess}?` : ''} (usage: ${spec.usage})`;
    }
    const name = opt?.split(' ')[0];
    if (name && /argument missing/.test(msg)) {
      return `${verb}: missing a value after ${name} (write ${name} VALUE; usage: ${spec.usage} [--name NAME] [--control PATH])`;
    }
    if (name && /ambiguous/.test(msg)) {
      // `--name --json`: most likely the value was left out.
      return `${verb}: missing a value after ${name} (the next argument is an option; if it is the value, write ${name}=VALUE)`;
    }
    return `${verb}: ${msg.split('\n')[0]} (usage: ${spec.usage})`;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return '';
  const [min, max] = spec.positionals;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    return `${verb}: expected ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${parsed.positionals.length} (usage: ${spec.usage})`;
  }
  const nameSetting = SETTINGS.find((s) => s.key === 'name');
  const name = typeof values.name === 'string' ? values.name : 'default';
  if (nameSetting?.pattern && !nameSetting.pattern.re.test(name)) {
    return `name: expected ${nameSetting.pattern.expected}, got ${JSON.stringify(name)} (from the command line)`;
  }
  const args = spec.args(values, parsed.positionals);
  if (typeof args === 'string') return args;
  const path = controlPath(name, typeof values.control === 'string' ? values.control : null);
  return { values, args, path, name };
}

function verbHelp(verb: string): string {
  const spec = verbCommand(verb)?.cli;
  if (!spec) return '';
  const flags = { ...spec.flags, ...COMMON };
  return [
    `Usage: ${spec.usage} [--name NAME] [--control PATH]`,
    '',
    spec.doc,
    '',
    ...Object.entries(flags).map(
      ([k, v]) =>
        `  ${'short' in v && v.short ? `-${v.short}, ` : ''}--${k}${v.type === 'string' ? ' VALUE' : ''}`.padEnd(
          24,
        ) + v.doc,
    ),
  ].join('\n');
}

/** Runs one remote verb. */
export async function remote(verb: string, argv: string[]): Promise<number> {
  const parsed = parseVerb(verb, argv);
  if (parsed === '') {
    process.stdout.write(`${verbHelp(verb)}\n`);
    return EXIT_OK;
  }
  if (typeof parsed === 'string') {
    process.stderr.write(`gsup: ${parsed}\n`);
    return EXIT_USAGE;
  }
  let client: ControlClient;
  try {
    client = await ControlClient.connect(parsed.path, parsed.name);
  } catch (err) {
    if (err instanceof NotRunningError) {
      // By name, list the ones that are running: `gsup status` while `gsup demo` runs as demo.
      const others = typeof parsed.values.control === 'string' ? null : await runningNames();
      process.stderr.write(
        others
          ? `gsup: no gsup named "${parsed.name}" is running (${err.why}); running: ${others.join(', ')}; pass --name ${others[0]} (gsup ls lists them)\n`
          : `gsup: ${err.message}\n`,
      );
      return EXIT_FAILURE;
    }
    throw err;
  }
  try {
    const command = verbCommand(verb);
    if (!command) return EXIT_USAGE;
    return await (PRINTERS[command.name] ?? sendAndSay)(client, parsed, command);
  } finally {
    client.close();
  }
}

/** Sends a verb's command over the socket: its arguments encoded as its row says. */
function send(client: ControlClient, command: Command, args: unknown) {
  return client.request({ cmd: command.name, ...command.encode(args) } as RequestBody);
}

type Printer = (client: ControlClient, parsed: Parsed, command: Command) => Promise<number>;

/** A verb with no printer of its own: its reply's result, as JSON. */
async function sendAndSay(
  client: ControlClient,
  parsed: Parsed,
  command: Command,
): Promise<number> {
  const r = await send(client, command, parsed.args);
  if (!r.ok) return failed(r.error);
  process.stdout.write(`gsup: ${command.name}: ${JSON.stringify(r.result)}\n`);
  return EXIT_OK;
}

/** How each verb shows its reply (a view concern; what it sends comes from the command table). */
const PRINTERS: Partial<Record<string, Printer>> = {
  status: (client, parsed) => status(client, parsed.values.json === true, parsed.name),
  scale: async (client, parsed, command) => {
    const r = await send(client, command, parsed.args);
    if (!r.ok) return failed(r.error);
    const { target } = r.result as { target: number };
    process.stdout.write(`gsup: scaling to ${target} worker${target === 1 ? '' : 's'}\n`);
    return EXIT_OK;
  },
  reload: (client) => reload(client),
  autoscale: async (client, parsed, command) => {
    const r = await send(client, command, parsed.args);
    if (!r.ok) return failed(r.error);
    const { enabled, min, max, workers } = r.result as {
      enabled: boolean;
      min: number;
      max: number;
      workers: number;
    };
    process.stdout.write(
      enabled
        ? `gsup: autoscale on: between ${min} and ${max} workers (now ${workers})\n`
        : `gsup: autoscale off: staying at ${workers} worker${workers === 1 ? '' : 's'}\n`,
    );
    return EXIT_OK;
  },
  upgrade: async (client, parsed, command) => {
    process.stdout.write('gsup: upgrading gsup itself (waits until it is done or failed)...\n');
    const r = await send(client, command, parsed.args);
    if (!r.ok) return failed(r.error);
    process.stdout.write(`gsup: ${(r.result as { message: string }).message}\n`);
    return EXIT_OK;
  },
  stop: (client, parsed) => stop(client, (parsed.args as { quick: boolean }).quick),
  subscribe: (client, parsed) => top(client, parsed.name, parsed.path),
  logs: (client, parsed, command) =>
    logs(client, command, parsed.args as { follow: boolean }, parsed.values.json === true, {
      path: parsed.path,
      name: parsed.name,
    }),
};

/** How `gsup logs -f` reads each supervisor, and its last line when the instance stopped. */
const LOGS_VIEW: View = { via: 'logs', prefix: 'gsup: logs', stopped: 'the instance stopped' };

/**
 * `gsup logs`: the recent events and worker output, in time order; with -f, then what comes, across
 * an upgrade of gsup itself, until the instance stops.
 */
async function logs(
  client: ControlClient,
  command: Command,
  args: { follow: boolean },
  json: boolean,
  follow: Follow,
): Promise<number> {
  const log = new Logger(null, process.stdout, json ? 'json' : 'text');
  if (!args.follow) {
    const r = await send(client, command, args);
    if (!r.ok) return failed(r.error);
    printKept(log, r.result);
    await log.flush();
    return EXIT_OK;
  }
  // Each supervisor's kept lines come first (`joined`), then its stream: the first one's, and
  // after an upgrade the new one's, which this reader has not seen.
  const feed = new RemoteFeed(follow, LOGS_VIEW)
    .on('joined', (reply) => printKept(log, reply))
    .on('event', (e) => log.event(e))
    .on('output', (o) => log.output(o))
    .on('dropped', (n) =>
      log.line('warn', `gsup logs: ${n} lines dropped: this reader fell behind`),
    );
  try {
    await feed.start(client);
  } catch (err) {
    if (err instanceof ConfigError) return failed(err.message);
    throw err;
  }
  // Until the instance stops (not an upgrade of gsup: that is followed) or Ctrl-C ends this process.
  const message = await feed.ended;
  feed.close();
  await log.flush();
  process.stderr.write(`${message}\n`);
  return EXIT_OK;
}

/** Prints a `logs` reply: the events and worker output a supervisor kept, in time order. */
function printKept(log: Logger, reply: unknown): void {
  const { events, output } = reply as {
    events: PoolEvent[];
    output: Array<WorkerOutput & { at: number }>;
  };
  const lines: Array<{ at: number; print: () => void }> = [
    ...events.map((e) => ({ at: e.at, print: () => log.event(e) })),
    ...output.map(({ at, ...o }) => ({ at, print: () => log.output(o, at) })),
  ];
  // Stable: an event and a line of the same millisecond keep the order they were kept in.
  for (const l of lines.sort((a, b) => a.at - b.at)) l.print();
}

async function status(client: ControlClient, json: boolean, name: string): Promise<number> {
  const r = await client.request({ cmd: 'status' });
  if (!r.ok) return failed(r.error);
  const snap = r.result as PoolSnapshot;
  if (json) {
    process.stdout.write(`${JSON.stringify(statusView(snap, name), null, 2)}\n`);
    return EXIT_OK;
  }
  const width =
    process.stdout.columns && process.stdout.columns > 40 ? process.stdout.columns : 120;
  const cols = columnsFor(width);
  const lines = [
    ...headerLines(snap, width, name).map(plain),
    ...[autoscaleLine(snap) ?? []].flat(),
    '',
    plain(tableHeader(cols)),
    ...snap.workers.map((w) => plain(tableRow(w, snap, cols))),
  ];
  for (const w of snap.waiting)
    lines.push(
      `slot ${w.slot}: flapping, ${w.failures} failed boots, next try in ${(w.retryInMs / 1000).toFixed(1)}s`,
    );
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

async function reload(client: ControlClient): Promise<number> {
  process.stdout.write('gsup: reloading (waits until it is done or rolled back)...\n');
  const r = await client.request({ cmd: 'reload' });
  if (!r.ok) return failed(r.error);
  process.stdout.write(`gsup: ${(r.result as ReloadResult).message}\n`);
  return EXIT_OK;
}

async function stop(client: ControlClient, quick: boolean): Promise<number> {
  const r = await client.request({ cmd: 'stop', quick });
  if (!r.ok) return failed(r.error);
  // Stay until the supervisor is gone, so `gsup stop && gsup start` never overlaps.
  await new Promise<void>((resolve) => client.once('close', resolve));
  process.stdout.write(`gsup: stopped (${quick ? 'quick' : 'graceful'})\n`);
  return EXIT_OK;
}

/**
 * The dashboard of a running instance, over the socket: keys act remotely, q detaches. It follows
 * the instance across an upgrade of gsup itself, and ends when the instance stops.
 */
async function top(client: ControlClient, name: string, path: string): Promise<number> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    process.stderr.write('gsup: top needs a terminal; use gsup status for a one-off table\n');
    return EXIT_USAGE;
  }
  const feed = await RemoteFeed.open(client, { path, name });
  // blessed is loaded only by the verbs that draw (about 9 MB of memory otherwise).
  const { Dashboard } = await import('../dashboard/dashboard.js');
  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number, message: string) => {
      if (finished) return;
      finished = true;
      feed.close();
      dash.destroy();
      process.stdout.write(`${message}\n`);
      resolve(code);
    };
    const dash = new Dashboard({
      source: feed,
      commands: remoteCommands(feed),
      quit: 'detach',
      name,
      onDetach: () => finish(EXIT_OK, 'gsup top: detached; the server keeps running'),
      onError: (err) =>
        finish(EXIT_FAILURE, `gsup top: the dashboard failed: ${(err as Error).message}`),
      onTerminalLost: () => finish(EXIT_OK, ''),
    });
    // An upgrade of gsup itself is followed; a stop (or a vanished instance) ends the view.
    void feed.ended.then((message) => finish(EXIT_OK, message));
    dash.start();
  });
}

/** A PoolSource fed by the subscription stream: the latest snapshot, plus events and output. */
export function remoteSource(client: ControlClient): Promise<PoolSource> {
  return RemoteFeed.open(client);
}

/** PoolCommands that travel over the socket: `gsup top`'s keys act on the remote pool. */
export function remoteCommands(client: Pick<ControlClient, 'request'>): PoolCommands {
  const ok = async (body: RequestBody) => (await client.request(body)).ok;
  return {
    scale: async (req) => {
      const r = await client.request({ cmd: 'scale', ...req });
      if (!r.ok) return { ok: false, error: r.error };
      const { from, target } = r.result as { from: number; target: number };
      return { ok: true, from, to: target };
    },
    reload: async () => {
      const r = await client.request({ cmd: 'reload' });
      return r.ok ? (r.result as ReloadResult) : { ok: false, message: r.error };
    },
    stop: (opts) => void client.request({ cmd: 'stop', quick: opts?.quick === true }),
    recycle: (pid) => ok({ cmd: 'recycle', pid }),
    kill: (pid) => ok({ cmd: 'kill', pid }),
    autoscale: async (on) => {
      const r = await client.request({ cmd: 'autoscale', on });
      if (!r.ok) return { ok: false, error: r.error };
      return {
        ok: true,
        ...(r.result as { enabled: boolean; min: number; max: number; workers: number }),
      };
    },
  };
}

function failed(error: string): number {
  process.stderr.write(`gsup: ${error}\n`);
  return EXIT_FAILURE;
}
