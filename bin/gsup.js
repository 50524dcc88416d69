#!/usr/bin/env node
// The `gsup` command: runs the built CLI (npm install builds it into dist/).
import { main } from '../dist/cli/main.js';

/** Exits once stdout and stderr are flushed: into a pipe they are asynchronous, and a large
 * `gsup status --json` would otherwise be cut short. */
function exitAfterFlush(code) {
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  if (pending.length === 0) process.exit(code);
  let left = pending.length;
  for (const s of pending) {
    s.once('drain', () => {
      left--;
      if (left === 0) process.exit(code);
    });
    // A reader that went away (EPIPE) must not keep us alive.
    s.once('error', () => process.exit(code));
  }
}

main(process.argv.slice(2)).then(exitAfterFlush, (err) => {
  // A bug in gsup itself, not a user mistake: show everything.
  console.error('gsup: internal error:', err);
  exitAfterFlush(70); // EXIT_INTERNAL in src/exit-codes.ts
});
