// argv → command. Each verb lives in its own module; this file only dispatches.

import { readFileSync } from 'node:fs';
import { COMMANDS, signalsHelp } from '../commands.js';
import { suggest } from '../config/parse.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { check } from './check.js';
import { demo } from './demo.js';
import { remote } from './remote.js';
import { start } from './start.js';

/** The verbs: running a pool, and one per command-table row that has a CLI verb. */
const VERBS: Record<string, { run: (argv: string[]) => Promise<number>; doc: string }> = {
  start: { run: start, doc: 'run APP on a pool of workers (gsup start --help)' },
  demo: { run: demo, doc: 'the live dashboard on a bundled demo app, with gentle load' },
  check: { run: check, doc: 'validate the configuration; print every setting and its source' },
  ...Object.fromEntries(
    COMMANDS.flatMap(({ cli }) =>
      cli ? [[cli.verb, { run: (argv: string[]) => remote(cli.verb, argv), doc: cli.doc }]] : [],
    ),
  ),
};

function help(): string {
  const verbs = Object.entries(VERBS).map(([name, c]) => `  ${name.padEnd(10)} ${c.doc}`);
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
    ...wrap(`Signals to a running gsup: ${signalsHelp()}.`, 96),
  ].join('\n');
}

/** `text` in lines of at most `width` characters, broken between words. */
function wrap(text: string, width: number): string[] {
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
  const command = VERBS[verb];
  if (!command) {
    const guess = suggest(verb, Object.keys(VERBS));
    process.stderr.write(
      `gsup: unknown command ${JSON.stringify(verb)}${guess ? `; did you mean ${guess}?` : ''} (see gsup --help)\n`,
    );
    return EXIT_USAGE;
  }
  return command.run(rest);
}
