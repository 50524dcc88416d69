// argv → command. Each verb lives in its own module; this file only dispatches.

import { readFileSync } from 'node:fs';
import { suggest } from '../config/parse.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { check } from './check.js';
import { demo } from './demo.js';
import { remote } from './remote.js';
import { start } from './start.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; doc: string }> = {
  start: { run: start, doc: 'run APP on a pool of workers (gsup start --help)' },
  demo: { run: demo, doc: 'the live dashboard on a bundled demo app, with gentle load' },
  check: { run: check, doc: 'validate the configuration; print every setting and its source' },
  status: {
    run: (argv) => remote('status', argv),
    doc: 'the pool of a running gsup, as a table (--json: the snapshot)',
  },
  scale: {
    run: (argv) => remote('scale', argv),
    doc: 'gsup scale 8 | +2 | -1: change the worker count',
  },
  reload: {
    run: (argv) => remote('reload', argv),
    doc: 'graceful rolling reload; waits for done or rolled back',
  },
  stop: { run: (argv) => remote('stop', argv), doc: 'graceful stop (--quick: workers exit now)' },
  top: {
    run: (argv) => remote('top', argv),
    doc: 'the live dashboard of a running gsup; q detaches',
  },
};

function help(): string {
  const verbs = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.doc}`);
  return [
    'gsup: a pre-fork worker-pool supervisor for Node.js HTTP servers',
    '',
    'Usage: gsup COMMAND [options]',
    '',
    'Commands:',
    ...verbs,
    '',
    'The steering verbs take --name NAME (default: default) or --control PATH.',
    '',
    'Signals to a running gsup: HUP reload, TTIN/TTOU one worker more/fewer, TERM graceful stop,',
    'INT/QUIT quick stop, USR1 reopen the log file.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(`${help()}\n`);
    return verb === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (verb === '--version' || verb === '-v') {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    process.stdout.write(`gsup ${pkg.version} (node ${process.version})\n`);
    return EXIT_OK;
  }
  const command = COMMANDS[verb];
  if (!command) {
    const guess = suggest(verb, Object.keys(COMMANDS));
    process.stderr.write(
      `gsup: unknown command ${JSON.stringify(verb)}${guess ? `; did you mean ${guess}?` : ''} (see gsup --help)\n`,
    );
    return EXIT_USAGE;
  }
  return command.run(rest);
}
