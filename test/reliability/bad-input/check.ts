// What every bad-input case checks in the end: a clear error (one line naming the problem, no
// stack trace from gsup), no crash, no hang (an exit or an answer within a deadline), and
// nothing lost (the pool back to N and serving).

import type { ExecutionContext } from 'ava';
import { DEADLINE_MS, type Gsup, gsup } from '../../helpers.js';
import { backToN, INTERNAL_ERROR, ownLines, type Pool } from '../lib/pool.js';

export interface Case {
  /** The kind of bad input, as the table names it. */
  kind: string;
  run(t: ExecutionContext): Promise<void>;
}

/** A JavaScript stack frame. */
const FRAME = /^\s+at /;

/** gsup's exit status; fails if it is still running after the deadline (a hang). */
export function exitWithin(g: Gsup, ms = DEADLINE_MS): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`gsup still running after ${ms} ms:\n${g.lines.join('\n')}`)),
      ms,
    );
  });
  return Promise.race([g.exited, late]).finally(() => clearTimeout(timer));
}

/** `gsup ARGS` must refuse at once: exit `code`, one stderr line matching `expected`. */
export async function refused(
  t: ExecutionContext,
  args: string[],
  code: number,
  expected: RegExp,
  opts: Parameters<typeof gsup>[2] = {},
): Promise<void> {
  const g = gsup(t, args, opts);
  t.is(await exitWithin(g), code, g.lines.join('\n'));
  const lines = g.stderr().split('\n').filter(Boolean);
  t.is(lines.length, 1, `expected one line on stderr, got:\n${g.stderr()}`);
  t.regex(lines[0] ?? '', /^gsup: /);
  t.regex(lines[0] ?? '', expected);
  t.is(g.countEvents('worker-spawn'), 0, 'a worker was started');
}

/** An app that cannot boot: exit 3, the app's own error in one give-up line, no gsup stack. */
export async function cannotBoot(
  t: ExecutionContext,
  app: string,
  expected: RegExp,
  extra: string[] = [],
): Promise<Gsup> {
  const g = gsup(t, ['start', app, '-w', '2', '-b', '127.0.0.1:0', '--no-tui', ...extra]);
  t.is(await exitWithin(g), 3, g.lines.join('\n'));
  const giveUp = g.lines.filter((l) => /no worker could boot the app/.test(l));
  t.is(giveUp.length, 1, g.lines.join('\n'));
  t.regex(giveUp[0] ?? '', expected);
  sane(t, g);
  return g;
}

/** gsup's own lines carry no internal error and no stack trace of gsup's. */
export function sane(t: ExecutionContext, g: Gsup): void {
  const own = ownLines(g);
  t.false(
    own.some((l) => INTERNAL_ERROR.test(l)),
    `gsup reported an internal error:\n${own.join('\n')}`,
  );
  // A worker's stack may be quoted in gsup's log (timeouts); gsup itself must not print one raw.
  t.false(
    g
      .stderr()
      .split('\n')
      .some((l) => FRAME.test(l)),
    `a stack trace on gsup's stderr:\n${g.stderr()}`,
  );
}

/** After the fault: the pool is back to N and serving, and gsup broke nothing of its own. */
export async function intact(t: ExecutionContext, p: Pool, n: number): Promise<void> {
  await backToN(p, n);
  sane(t, p);
  p.child.kill('SIGTERM');
  t.is(await exitWithin(p), 0, 'graceful stop after the fault');
}
