// gsup inside a real terminal for end-to-end tests: tmux on its own socket (never a developer's
// sessions), gsup with its own runtime dir (its control socket meets no other gsup's), the
// screen read back with capture-pane, and everything killed at teardown.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { killQuietly, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

/**
 * False (and the test should return) when tmux is missing: a developer is told how to get it,
 * and under CI, which installs it (.ci/run), the test fails.
 */
export function tmuxAvailable(t: ExecutionContext): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) t.fail('tmux is not installed: apt-get install tmux');
    else {
      t.log('skipped: tmux is not installed (apt-get install tmux)');
      t.pass();
    }
    return false;
  }
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
  const socket = `gsup-${opts.name}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'main');
  const runtimeDir = mkdtempSync(`${tmpdir()}/gsup-${opts.name}-`);
  const command = [process.execPath, BIN, ...opts.args].map((a) => `'${a}'`).join(' ');
  const shell = `cd '${opts.cwd}' && XDG_RUNTIME_DIR='${runtimeDir}' NCURSES_NO_UTF8_ACS=1 ${command}; echo "gsup exit code $?"; exec sleep 600`;
  tmux('new-session', '-d', '-s', 'main', '-x', String(opts.cols), '-y', String(opts.rows), shell);
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
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    // tmux 3.3 leaves its socket file behind after kill-server.
    const tmuxDir = `${process.env.TMUX_TMPDIR ?? '/tmp'}/tmux-${process.getuid?.() ?? 0}`;
    rmSync(`${tmuxDir}/${socket}`, { force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  return session;
}
