// Runs when node-gyp could not build gsup's native helper (native/gsup_native.c) at install: the
// install still succeeds, and gsup runs without it; only systemd notification and PID 1 reaping
// need it, and gsup names the fix when they are asked for.
process.stderr.write(
  'gsup: the native helper was not built (it needs a C compiler, make and python3); gsup works without it, but systemd notification (NOTIFY_SOCKET) and reaping orphans as PID 1 need it: install them and run `npm rebuild gsup`\n',
);
