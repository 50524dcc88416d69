// End to end in a real terminal: gsup start under tmux, typed keys, the screen read back with
// capture-pane. tmux runs on its own socket so it never touches a developer's sessions.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { FIXTURES, isAlive, killQuietly, until } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/gsup.js', import.meta.url));

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('start, +, r, q in tmux', async (t) => {
  if (!hasTmux()) {
    // CI installs tmux (.ci/run); a developer machine without it is told how, and CI still fails.
    if (process.env.CI) t.fail('tmux is not installed: apt-get install tmux');
    else t.log('skipped: tmux is not installed (apt-get install tmux)');
    if (!process.env.CI) t.pass();
    return;
  }
  const socket = `gsup-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', 'main');
  // Its own runtime dir: its control socket must not meet another gsup's.
  const runtimeDir = mkdtempSync(`${tmpdir()}/gsup-tmux-`);
  const shell = `cd '${FIXTURES}' && XDG_RUNTIME_DIR='${runtimeDir}' NCURSES_NO_UTF8_ACS=1 '${process.execPath}' '${BIN}' start slow.js -w 2 -b 127.0.0.1:0; echo "gsup exit code $?"; exec sleep 600`;
  tmux('new-session', '-d', '-s', 'main', '-x', '110', '-y', '35', shell);
  let gsupPid = 0;
  t.teardown(() => {
    if (gsupPid > 0) killQuietly(gsupPid, 'SIGKILL'); // its workers die with it (parent-death signal)
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });
  const waitScreen = async (what: string, re: RegExp) => {
    try {
      await until(what, () => re.test(screen()));
    } catch (err) {
      throw new Error(`${(err as Error).message}\nscreen:\n${screen()}`);
    }
    return screen();
  };

  const first = await waitScreen('2 ready workers on screen', /workers 2\/2 ready/);
  gsupPid = Number(/gsup \S+ \(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(gsupPid > 0, 'the header shows the supervisor pid');
  t.regex(first, /SLOT\s+PID\s+STATE/);

  tmux('send-keys', '-t', 'main', '+');
  await waitScreen('3 ready workers', /workers 3\/3 ready/);

  tmux('send-keys', '-t', 'main', 'r');
  await waitScreen('the reload done', /reload done/);
  await waitScreen('the header counts it', /reloads 1/);

  tmux('send-keys', '-t', 'main', 'q');
  const after = await waitScreen('gsup exited', /gsup exit code \d+/);
  t.regex(after, /gsup stopped \(exit 0\)/);
  t.regex(after, /gsup exit code 0/);
  // The terminal is back to a shell's: no dashboard frame is left on screen.
  t.notRegex(after, /SLOT\s+PID\s+STATE/);
  await until('the supervisor is gone', () => !isAlive(gsupPid));
});
