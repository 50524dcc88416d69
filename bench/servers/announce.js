// Shared by the baseline servers: they print the same two lines gsup prints, so the runner waits
// for every setup the same way (see ../process.ts), and they die with whoever started them.

/** The listen queue length gsup uses by default; the baselines use it too, for a fair queue. */
export const BACKLOG = 2048;

export function announce(port, workers) {
  process.stdout.write(`listening at http://127.0.0.1:${port}\n`);
  process.stdout.write(`all ${workers} workers ready\n`);
}

/**
 * Exits when stdin (a pipe from the parent) closes, which happens even when the parent is
 * SIGKILLed, so no baseline server outlives a runner that could not clean up.
 */
export function exitWithParent() {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
