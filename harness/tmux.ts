// A tmux server of our own for end-to-end terminal runs: its own socket (never a developer's
// sessions), no ~/.tmux.conf, screens read with capture-pane, and its socket's folder removed after.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeTempDir, removeDir } from './tmp.js';

/** True when a tmux binary runs. */
export function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One tmux server on a socket of its own in a temp folder, with one session `main`. */
export class TmuxServer {
  /** The socket, in a folder of ours: tmux's default /tmp/tmux-UID/ would outlive the run. */
  readonly socket: string;
  private readonly dir: string;

  constructor(name: string) {
    this.dir = makeTempDir(`tmux-${name}`);
    this.socket = join(this.dir, randomBytes(4).toString('hex'));
  }

  /** The argv that starts session `main` of `cols`×`rows` running `shell`. */
  command(cols: number, rows: number, shell: string): string[] {
    // -f /dev/null: a developer's ~/.tmux.conf must not change the terminal.
    return ['tmux', ...this.base(), 'new-session', '-d', '-s', 'main'].concat([
      '-x',
      String(cols),
      '-y',
      String(rows),
      shell,
    ]);
  }

  /** Starts session `main` running `shell`. */
  start(cols: number, rows: number, shell: string): void {
    const [file, ...args] = this.command(cols, rows, shell);
    execFileSync(file ?? 'tmux', args, { stdio: 'ignore' });
  }

  /** Runs a tmux command against this server; returns its stdout. */
  run(...args: string[]): string {
    return execFileSync('tmux', [...this.base(), ...args], { encoding: 'utf8' });
  }

  /** The text on the screen of session `main`. */
  screen(): string {
    return this.run('capture-pane', '-p', '-t', 'main');
  }

  /** The pid of the process the pane runs (its shell). */
  panePid(): number {
    return Number(this.run('list-panes', '-t', 'main', '-F', '#{pane_pid}').trim());
  }

  /** Ends the server (SIGHUP to the pane: stop gsup first, it reads SIGHUP as reload). */
  kill(): void {
    try {
      execFileSync('tmux', [...this.base(), 'kill-server'], { stdio: 'ignore' });
    } catch {
      // No server on that socket (never started, or it exited with its last session).
    }
    // tmux leaves its socket file behind: the folder goes with it.
    removeDir(this.dir);
  }

  private base(): string[] {
    return ['-S', this.socket, '-f', '/dev/null'];
  }
}
