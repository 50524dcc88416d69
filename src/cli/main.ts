// argv → command. Each verb lives in its own module; this file only dispatches.

import { readFileSync } from 'node:fs';
import { COMMANDS, signalsHelp } from '../commands.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { editDistance, suggest } from '../suggest.js';
import { check } from './check.js';
import { demo } from './demo.js';
import { ls } from './ls.js';
import { remote } from './remote.js';
import { start } from './start.js';

/** Table verbs that run here rather than over one instance's socket. */
const LOCAL: Record<string, (argv: string[]) => Promise<number>> = { ls };

/** The verbs: running a pool, and one per command-table row that has a CLI verb. */
const VERBS: Record<string, { run: (argv: string[]) => Promise<number>; doc: string }> = {
  start: { run: start, doc: 'run APP on a pool of workers (gsup start --help)' },
  demo: { run: demo, doc: 'the live dashboard on a bundled demo app, with gentle load' },
  check: { run: check, doc: 'validate the configuration; print every setting and its source' },
  ...Object.fromEntries(
    COMMANDS.flatMap(({ cli }) =>
      cli
        ? [
            [
              cli.verb,
              {
                run: LOCAL[cli.verb] ?? ((argv: string[]) => remote(cli.verb, argv)),
                doc: cli.doc,
              },
            ],
          ]
        : [],
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

/** Verbs that start a server: never offered for what may be a typo of a verb that only asks. */
const STARTS_A_SERVER = new Set(['start', 'demo']);

/** What to say about a verb gsup does not have: another tool's word for one, or a did-you-mean. */
export function unknownVerb(verb: string): string {
  const named = COMMANDS.find((c) => c.cli?.insteadOf?.includes(verb))?.cli;
  if (named) {
    return `unknown command ${JSON.stringify(verb)}; did you mean ${named.verb}? (gsup ${named.verb}: ${named.doc})`;
  }
  const verbs = Object.keys(VERBS);
  let guess = suggest(verb, verbs);
  if (guess && STARTS_A_SERVER.has(guess)) {
    // `stauts` is as near to start as to status: a typo should not lead to starting a server.
    const asking = suggest(
      verb,
      verbs.filter((v) => !STARTS_A_SERVER.has(v)),
    );
    if (asking && editDistance(verb, asking) <= editDistance(verb, guess) + 1) guess = asking;
  }
  return `unknown command ${JSON.stringify(verb)}${guess ? `; did you mean ${guess}?` : ''}`;
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
    process.stderr.write(`gsup: ${unknownVerb(verb)} (see gsup --help)\n`);
    return EXIT_USAGE;
  }
  return command.run(rest);
}
