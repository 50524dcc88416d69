// End to end in a real terminal: gsup start under tmux, typed keys, the screen read back with
// capture-pane. tmux runs on its own socket so it never touches a developer's sessions.
import test from 'ava';
import { FIXTURES, get, isAlive, until } from './helpers.js';
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

/** The rows inside the box whose top border carries `title`. */
function paneRows(screen: string, title: string): string[] {
  const lines = screen.split('\n');
  const top = lines.findIndex((l) => l.includes(`─ ${title}`));
  const bottom = lines.findIndex((l, i) => i > top && l.startsWith('└'));
  return top < 0 || bottom < 0 ? [] : lines.slice(top + 1, bottom);
}

test('80×24 in tmux: the header, footer and help whole; after growing to 200×60 the log is full', async (t) => {
  if (!tmuxAvailable(t)) return;
  const session = tmuxGsup(t, {
    name: 'small',
    cwd: FIXTURES,
    args: ['start', 'chatty.js', '-w', '1', '-b', '127.0.0.1:0', '--name', 'firstten'],
    cols: 80,
    rows: 24,
  });
  const { tmux, waitScreen } = session;
  const first = await waitScreen('1 ready worker', /workers 1\/1 ready/);
  session.gsupPid = Number(/gsup \S* ?\(pid (\d+)\)/.exec(first)?.[1] ?? 0);
  t.true(session.gsupPid > 0, first);
  const url = /(http:\/\/127\.0\.0\.1:\d+)(\s|$)/m.exec(first)?.[1] ?? '';
  t.regex(url, /:\d+$/, 'the port is on screen');
  t.regex(first, /name firstten/);
  t.regex(first, /5xx 0/);
  const footer = first.trimEnd().split('\n').at(-1) ?? '';
  t.regex(footer, /\? help +q stop$/);

  tmux('send-keys', '-t', 'main', '?');
  const help = await waitScreen('the help', /Press any key to close\./);
  const box = paneRows(help, 'help');
  t.true(box.length > 5, help);
  for (const row of box) t.regex(row, /^│.*│$/, 'side borders on every row');
  tmux('send-keys', '-t', 'main', 'x');
  await waitScreen('the help closed', (s) => !s.includes('Press any key'));

  // Each request writes two lines: 40 of them fill even a 60-row terminal's log. Its stdout and
  // stderr are two pipes, read in whichever order the supervisor gets to them: the newest line is
  // one of the last request's two.
  const NEWEST = /(handling|warning about) \/r40\b/;
  for (let i = 1; i <= 40; i++) await get(`${url}/r${i}`);
  await waitScreen('the newest output', NEWEST);
  tmux('resize-window', '-t', 'main', '-x', '200', '-y', '60');
  const big = await waitScreen('a full log pane ending with the newest line', (s) => {
    const rows = paneRows(s, 'events and worker output');
    return (
      s.split('\n').length >= 59 &&
      rows.length > 20 &&
      rows.every((r) => r.slice(1, -1).trim() !== '') &&
      NEWEST.test(rows.at(-1) ?? '')
    );
  });
  t.regex(big, /share of requests/, 'the charts came with the room');

  tmux('send-keys', '-t', 'main', 'q');
  await waitScreen('gsup exited', /gsup exit code 0/);
  await until('the supervisor is gone', () => !isAlive(session.gsupPid));
});
