// The bad-input table: every kind of bad input the suite throws at gsup, in one list, run the
// same way by the CI suite (test/reliability-short.test.ts) and the full one.

import type { TestFn } from 'ava';
import type { Case } from './check.js';
import { COMMANDS } from './commands.js';
import { STARTUP } from './startup.js';
import { TERMINAL } from './terminal.js';
import { WORKERS } from './workers.js';

export const TABLE: Case[] = [...STARTUP, ...WORKERS, ...COMMANDS, ...TERMINAL];

/**
 * One ava test per kind, at most `parallel` running at once: enough to finish quickly, few
 * enough that 2 cores still boot every worker well within the deadlines.
 */
export function registerTable(test: TestFn, parallel: number): void {
  let running = 0;
  const queue: Array<() => void> = [];
  const acquire = () =>
    new Promise<void>((resolve) => {
      if (running < parallel) {
        running++;
        resolve();
      } else queue.push(resolve);
    });
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };
  for (const c of TABLE) {
    test(`bad input: ${c.kind}`, async (t) => {
      await acquire();
      try {
        await c.run(t);
      } finally {
        release();
      }
    });
  }
}
