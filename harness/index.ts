// The one harness for test/, bench/ and scripts/: gsup as a child process read through its typed
// events, waits with deadlines, /proc, tmux, temp folders, free ports and option parsing.

export * from './args.js';
export * from './gsup.js';
export * from './http.js';
export * from './log.js';
export * from './ports.js';
export * from './procfs.js';
export * from './prometheus.js';
export * from './shell.js';
export * from './tmp.js';
export * from './tmux.js';
export * from './wait.js';
