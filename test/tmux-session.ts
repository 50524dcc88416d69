// gsup inside a real terminal for end-to-end tests: tmux on its own socket (never a developer's
// sessions), gsup with its own runtime dir (its control socket meets no other gsup's), the
// screen read back with capture-pane, and everything killed at teardown.

import type { ExecutionContext } from 'ava';
import { shellLine } from '../harness/shell.js';
import { hasTmux, TmuxServer } from '../harness/tmux.js';
import { BIN, killQuietly, tempDir, until } from './helpers.js';

/**
 * False (and the test should return) when tmux is missing: a developer is told how to get it,
 * and under CI, which installs it (.ci/run), the test fails.
 */
export function tmuxAvailable(t: ExecutionContext): boolean {
  if (hasTmux()) return true;
  if (process.env.CI) t.fail('tmux is not installed: apt-get install tmux');
  else {
    t.log('skipped: tmux is not installed (apt-get install tmux)');
    t.pass();
  }
  return false;
}

export interface TmuxGsup {
  tmux(...args: string[]): string;
  screen(): string;
  /** Waits until the screen matches; the failure message shows the screen. */
  waitScreen(what: string, cond: RegExp | ((screen: string) => boolean)): Promise<string>;
  runtimeDir: string;
  /** Set once read off the header: killed at teardown, since tmux's SIGHUP means reload to gsup. */
  gsupPid: number;
  workerPids: number[];
}

/** Runs `gsup ARGS` in a fresh tmux session of the given size, in `cwd`. */
export function tmuxGsup(
  t: ExecutionContext,
  opts: { name: string; cwd: string; args: string[]; cols: number; rows: number },
): TmuxGsup {
  const server = new TmuxServer(opts.name);
  const tmux = (...args: string[]) => server.run(...args);
  const screen = () => server.screen();
  const runtimeDir = tempDir(t, opts.name);
  const command = shellLine([process.execPath, BIN, ...opts.args]);
  const shell = `cd ${shellLine([opts.cwd])} && XDG_RUNTIME_DIR=${shellLine([runtimeDir])} NCURSES_NO_UTF8_ACS=1 ${command}; echo "gsup exit code $?"; exec sleep 600`;
  server.start(opts.cols, opts.rows, shell);
  const session: TmuxGsup = {
    tmux,
    screen,
    runtimeDir,
    gsupPid: 0,
    workerPids: [],
    waitScreen: async (what, cond) => {
      const test = typeof cond === 'function' ? cond : (s: string) => cond.test(s);
      try {
        await until(what, () => test(screen()));
      } catch (err) {
        throw new Error(`${(err as Error).message}\nscreen:\n${screen()}`);
      }
      return screen();
    },
  };
  t.teardown(() => {
    // tmux kill-server sends SIGHUP, which gsup takes as a reload: kill gsup first (its workers
    // die with it, by their parent-death signal; any listed are killed too).
    if (session.gsupPid > 0) killQuietly(session.gsupPid, 'SIGKILL');
    for (const pid of session.workerPids) killQuietly(pid, 'SIGKILL');
    server.kill();
  });
  return session;
}
