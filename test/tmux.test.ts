// End to end in a real terminal: gsup start under tmux, typed keys, the screen read back with
// capture-pane. tmux runs on its own socket so it never touches a developer's sessions.
import test from 'ava';
import { FIXTURES, isAlive, until } from './helpers.js';
import { tmuxAvailable, tmuxGsup } from './tmux-session.js';

test('start, +, r, q in tmux', async (t) => {
  if (!tmuxAvailable(t)) return;
  const session = tmuxGsup(t, {
    name: 'tmux',
    cwd: FIXTURES,
    args: ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0'],
    cols: 110,
    rows: 35,
  });
  const { tmux, waitScreen } = session;

  const first = await waitScreen('2 ready workers on screen', /workers 2\/2 ready/);
  session.gsupPid = Number(/gsup \S+ \(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(session.gsupPid > 0, 'the header shows the supervisor pid');
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
  await until('the supervisor is gone', () => !isAlive(session.gsupPid));
});
