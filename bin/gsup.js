#!/usr/bin/env node
// The `gsup` command: runs the built CLI (npm install builds it into dist/).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // A bug in gsup itself, not a user mistake: show everything.
    console.error('gsup: internal error:', err);
    process.exit(70); // EXIT_INTERNAL
  },
);
