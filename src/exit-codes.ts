// Exit statuses of the `gsup` process and of its workers. Named so that no bare number
// decides what a script or an init system sees.

/** Everything stopped as asked. */
export const EXIT_OK = 0;
/** A runtime failure outside the app: the address is in use, the socket cannot be made. */
export const EXIT_FAILURE = 1;
/** A user mistake on the command line or in the config: a bad flag, value or app path. */
export const EXIT_USAGE = 2;
/**
 * No worker could boot the app (it throws at import, never listens, ...). Gunicorn uses 3
 * for the same condition (WORKER_BOOT_ERROR), so init scripts written for it keep working.
 */
export const EXIT_BOOT_ERROR = 3;

/** A bug in gsup itself (EX_SOFTWARE from sysexits.h). */
export const EXIT_INTERNAL = 70;

/** A worker exits with this when the app cannot be loaded or cannot listen. */
export const WORKER_BOOT_ERROR = 3;
