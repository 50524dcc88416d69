// `gsup demo`: the real `gsup start` on the bundled demo app, with a gentle built-in load
// generator, so a newcomer sees the dashboard alive before writing a line.

import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseStart } from '../config/parse.js';
import { freePort } from '../demo/free-port.js';
import { DemoLoad, MAX_RATE } from '../demo/load.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { start } from './start.js';

const DEMO_APP = fileURLToPath(new URL('../../examples/demo.js', import.meta.url));
const DEFAULT_RATE = 10;
/** Defaults that make the demo show something at once; any of them can be overridden. */
const DEFAULTS = ['-w', '4', '-t', '5', '--name', 'demo'];

const HELP = `Usage: gsup demo [--rate N] [gsup start options]

Runs the live dashboard on the bundled demo app (examples/demo.js) on a free port of
127.0.0.1, and sends it about N requests a second (default ${DEFAULT_RATE}, at most ${MAX_RATE}) from
inside gsup: mostly fast, some slow, one in twenty a 500. The load stops when gsup stops.

  curl http://127.0.0.1:PORT/hang   hangs a worker: gsup kills it after the timeout (5 s in
                                    the demo) and logs the stack it was stuck in

Defaults: ${DEFAULTS.join(' ')} (the control socket is named demo, so
\`gsup status --name demo\` finds it). Every gsup start option but --bind works here, e.g.
\`gsup demo -w 2 --no-tui\` (see gsup start --help). Press q to stop, ? for the keys.`;

interface DemoArgs {
  rate: number;
  help: boolean;
  /** The arguments left for `gsup start`. */
  forward: string[];
}

/** Takes out the demo's own options; returns a one-line error or the split arguments. */
export function parseDemoArgs(argv: string[]): DemoArgs | string {
  const out: DemoArgs = { rate: DEFAULT_RATE, help: false, forward: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (arg === '--rate' || arg.startsWith('--rate=')) {
      const value = arg === '--rate' ? argv[++i] : arg.slice('--rate='.length);
      const n = Number(value);
      if (value === undefined || value === '' || !Number.isInteger(n) || n < 1 || n > MAX_RATE) {
        return `demo: expected --rate to be a whole number of requests per second from 1 to ${MAX_RATE}, got ${JSON.stringify(value ?? null)}`;
      }
      out.rate = n;
      continue;
    }
    out.forward.push(arg);
  }
  return out;
}

export async function demo(argv: string[]): Promise<number> {
  const args = parseDemoArgs(argv);
  if (typeof args === 'string') return usage(args);
  // Checked here (before --help, so a quoted command with a mistake fails even with --help), and
  // so that the mistakes the demo adds are named as demo mistakes.
  try {
    const parsed = parseStart(args.forward, {});
    if (parsed.positionals.length > 0) {
      return usage(
        `demo: runs its own app and takes no app argument, got ${parsed.positionals.join(' ')} (gsup start APP runs yours)`,
      );
    }
    if (parsed.sources.bind === 'cli') {
      return usage(
        'demo: picks a free port on 127.0.0.1 itself, so --bind is not accepted (gsup start --bind runs yours)',
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) return usage(err.message);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The workers inherit the environment: the demo app names this address in its hint.
  process.env.GSUP_DEMO_URL = url;
  const load = new DemoLoad(url, args.rate);
  load.start();
  try {
    return await start([appArgument(), ...DEFAULTS, '-b', `127.0.0.1:${port}`, ...args.forward]);
  } finally {
    await load.stop();
  }
}

/** The demo app as the header shows it: relative when under the current directory. */
function appArgument(): string {
  const rel = relative(process.cwd(), DEMO_APP);
  return rel.startsWith('..') || resolve(rel) !== DEMO_APP ? DEMO_APP : rel;
}

function usage(message: string): number {
  process.stderr.write(`gsup: ${message}\n`);
  return EXIT_USAGE;
}
