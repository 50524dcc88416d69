// The frame every benchmark entry point shares: parse options (usage errors exit 2), run, and
// stop everything it started on any way out, Ctrl-C included.

import { isUsageError } from '../harness/args.js';

/** Parses argv with `parse`; prints `usage` and returns null on --help or a bad command line. */
export function options<T extends { help: boolean }>(
  name: string,
  argv: string[],
  parse: (argv: string[]) => T,
  usage: string,
): { options: T } | { code: number } {
  try {
    const parsed = parse(argv);
    if (!parsed.help) return { options: parsed };
    console.log(usage);
    return { code: 0 };
  } catch (err) {
    if (!isUsageError(err)) throw err;
    console.error(`${name}: ${err.message}\n\n${usage}`);
    return { code: 2 };
  }
}

/**
 * Runs `main` and exits with its code. `cleanup` runs on every way out (synchronously, from the
 * 'exit' handler), so no server, wrk or tmux outlives the benchmark.
 */
export function runMain(
  name: string,
  main: (argv: string[]) => Promise<number>,
  cleanup: () => void,
  signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): void {
  process.on('exit', cleanup);
  for (const signal of signals) {
    process.on(signal, () => {
      console.error(`\n${name}: ${signal}, stopping everything started`);
      process.exit(130);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${name}: ${(err as Error).stack ?? err}`);
      process.exit(1);
    },
  );
}
