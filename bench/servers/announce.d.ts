// Types of announce.js, which stays plain JS: the measured servers import it without a loader.

/** The listen queue length gsup uses by default; the baselines use it too, for a fair queue. */
export const BACKLOG: number;
/** Prints the two lines every setup prints once it serves (see ../process.ts). */
export function announce(port: number, workers: number): void;
/** Exits when stdin (a pipe from the parent) closes, so no baseline outlives its runner. */
export function exitWithParent(): void;
