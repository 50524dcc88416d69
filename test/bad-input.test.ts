// Bad input against the real CLI: every mistake gets one clear line naming the problem and the
// value, a non-zero exit, and no stack trace. Apps that cannot boot end `gsup start` with exit 3
// and the app's own error, said a few times rather than hundreds.

import { readFileSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { SETTINGS } from '../src/config/schema.js';
import { EXIT_BOOT_ERROR, EXIT_OK, EXIT_USAGE } from '../src/exit-codes.js';
import { DEADLINE_MS, type Gsup, gsup } from './helpers.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Lines that look like a JavaScript stack frame. */
const STACK_FRAME = /^\s+at /;

/** gsup's exit status; fails the test if gsup is still running after the deadline. */
function exitWithin(g: Gsup, ms = DEADLINE_MS): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`gsup still running after ${ms} ms:\n${g.lines.join('\n')}`)),
      ms,
    );
  });
  return Promise.race([g.exited, late]).finally(() => clearTimeout(timer));
}

/** Runs gsup with a command-line mistake and checks the one-line answer. */
async function usageError(
  t: ExecutionContext,
  args: string[],
  expected: RegExp,
  env: Record<string, string | undefined> = {},
): Promise<void> {
  const g = gsup(t, args, { env });
  const code = await exitWithin(g);
  t.is(code, EXIT_USAGE, `exit status for gsup ${args.join(' ')}`);
  t.is(g.stdout(), '', 'nothing on stdout');
  const lines = g.stderr().split('\n').filter(Boolean);
  t.is(lines.length, 1, `expected one line on stderr, got:\n${g.stderr()}`);
  t.regex(lines[0] ?? '', /^gsup: /);
  t.regex(lines[0] ?? '', expected);
  t.false(
    g.lines.some((l) => STACK_FRAME.test(l)),
    'a stack trace was printed',
  );
  t.is(g.countEvents('worker-spawn'), 0);
}

// ---- command-line mistakes ------------------------------------------------------------------

const USAGE_CASES: Array<[string, string[], RegExp]> = [
  [
    'unknown flag, with a suggestion',
    ['start', 'slow.js', '--wokers', '2'],
    /unknown option --wokers; did you mean --workers\?/,
  ],
  [
    'unknown flag close to --bind',
    ['start', 'slow.js', '--bnid', '127.0.0.1:0'],
    /unknown option --bnid; did you mean --bind\?/,
  ],
  [
    'unknown flag with nothing close to it',
    ['start', 'slow.js', '--frobnicate'],
    /unknown option --frobnicate(?!.*did you mean)/,
  ],
  ['-w abc', ['start', 'slow.js', '-w', 'abc'], /workers: .*"abc"/],
  ['-w 0', ['start', 'slow.js', '-w', '0'], /workers: .*"0"/],
  ['-w 2.5', ['start', 'slow.js', '-w', '2.5'], /workers: .*"2\.5"/],
  ['--timeout=-1', ['start', 'slow.js', '--timeout=-1'], /timeout: .*"-1"/],
  ['-t soon', ['start', 'slow.js', '-t', 'soon'], /timeout: .*"soon"/],
  ['--backlog x', ['start', 'slow.js', '--backlog', 'x'], /backlog: .*"x"/],
  ['--boot-timeout 0', ['start', 'slow.js', '--boot-timeout', '0'], /boot-timeout: .*"0"/],
  ['-w with no value at the end', ['start', 'slow.js', '-w'], /workers: missing a value/],
  ['-b with no value at the end', ['start', 'slow.js', '-b'], /bind: missing a value/],
  [
    'workers above max-workers',
    ['start', 'slow.js', '-w', '10', '--max-workers', '5'],
    /workers: 10 is above max-workers 5/,
  ],
  ['bind nonsense', ['start', 'slow.js', '-b', 'nonsense'], /bind: .*"nonsense"/],
  ['bind port too big', ['start', 'slow.js', '-b', '127.0.0.1:99999'], /bind: .*99999/],
  ['bind fd://x', ['start', 'slow.js', '-b', 'fd://x'], /bind: .*"fd:\/\/x"/],
  ['bind unix: relative', ['start', 'slow.js', '-b', 'unix:app.sock'], /bind: .*"unix:app\.sock"/],
  ['bind host with no port', ['start', 'slow.js', '-b', '127.0.0.1'], /bind: .*"127\.0\.0\.1"/],
  ['missing app file', ['start', 'no-such-app.js'], /app not found: no-such-app\.js/],
  ['app is a directory', ['start', '.'], /app is not a file: \./],
  ['no app given', ['start', '-w', '1'], /which app\?/],
  ['two apps given', ['start', 'slow.js', 'chatty.js'], /expected one app, got 2/],
  ['unknown command', ['strat'], /unknown command "strat"; did you mean start\?/],
  // A typo of a verb that only asks is never pointed at the verb that starts a server.
  ['a typo of status', ['stauts'], /unknown command "stauts"; did you mean status\?/],
  ['a short typo of status', ['stat'], /unknown command "stat"; did you mean status\?/],
  [
    'restart, as other tools say it',
    ['restart'],
    /unknown command "restart"; did you mean reload\? \(gsup reload: graceful rolling reload/,
  ],
  [
    'a bare port for -b',
    ['start', 'slow.js', '-b', '8000'],
    /bind: .*"8000"; did you mean :8000 .* or 127\.0\.0\.1:8000/,
  ],
  [
    'a URL for -b',
    ['start', 'slow.js', '-b', 'http://127.0.0.1:8000/'],
    /bind: .*; did you mean 127\.0\.0\.1:8000\?/,
  ],
  [
    'a flag where a value goes',
    ['start', 'slow.js', '--timeout', '--no-tui'],
    /timeout: missing a value after --timeout \(the next argument is the option --no-tui\)/,
  ],
  ['--name with no value', ['status', '--name'], /status: missing a value after --name/],
  [
    '--name followed by a flag',
    ['status', '--name', '--json'],
    /status: missing a value after --name \(the next argument is an option/,
  ],
  [
    'gsup ls with an unknown flag',
    ['ls', '--jsno'],
    /ls: unknown option --jsno; did you mean --json\?/,
  ],
  [
    'a short flag where a value goes',
    ['start', 'slow.js', '-w', '-b', '127.0.0.1:0'],
    /workers: missing a value after -w/,
  ],
];

for (const [title, args, expected] of USAGE_CASES) {
  test(`bad input: ${title}`, (t) => usageError(t, args, expected));
}

test('bad input: WEB_CONCURRENCY=abc names the variable and the value', (t) =>
  usageError(t, ['start', 'slow.js'], /workers: .*"abc".*WEB_CONCURRENCY/, {
    WEB_CONCURRENCY: 'abc',
  }));

// A negative value after a flag gets the setting's own range message, naming the value.
const DASH_VALUES = [
  ['-t', '-1', 'timeout'],
  ['-w', '-3', 'workers'],
] as const;

for (const [flag, value, name] of DASH_VALUES) {
  test(`bad input: ${flag} ${value} names the setting, the value and the range`, (t) =>
    usageError(
      t,
      ['start', 'slow.js', flag, value],
      new RegExp(`${name}: expected .* from \\d+ to \\d+, got "${value}"`),
    ));
}

// ---- apps that cannot boot ------------------------------------------------------------------

/** Runs an app that cannot boot and checks that gsup gives up with exit 3 and the app's error. */
async function bootFailure(
  t: ExecutionContext,
  app: string,
  expected: RegExp,
  extra: string[] = [],
  opts: { stackAllowed?: boolean } = {},
): Promise<Gsup> {
  const g = gsup(t, ['start', app, '-w', '2', '-b', '127.0.0.1:0', '--no-tui', ...extra]);
  const code = await exitWithin(g);
  t.is(code, EXIT_BOOT_ERROR, g.lines.join('\n'));
  t.true(g.countEvents('worker-spawn') >= 1, 'no worker was ever started');
  const giveUp = g.lines.filter((l) => /no worker could boot the app/.test(l));
  t.is(giveUp.length, 1, g.lines.join('\n'));
  t.regex(giveUp[0] ?? '', expected);
  const mentions = g.count(expected);
  t.true(mentions >= 1 && mentions <= 5, `the error was printed ${mentions} times`);
  if (!opts.stackAllowed) {
    t.false(
      g.lines.some((l) => STACK_FRAME.test(l)),
      `a stack trace was printed:\n${g.lines.join('\n')}`,
    );
  }
  return g;
}

test('boot failure: an export that does not exist names it and lists the real ones', async (t) => {
  const g = await bootFailure(t, 'not-an-app.js:nope', /not-an-app\.js has no export 'nope'/);
  t.regex(g.stdout(), /it exports: default, other/);
});

test('boot failure: an export of the wrong shape (42) exits 3 naming the module and the value', async (t) => {
  await bootFailure(t, 'not-an-app.js', /not-an-app\.js(:default)? is a number \(42\)/);
});

test('boot failure: an app that throws at import exits 3 with its message, said a few times', async (t) => {
  const g = await bootFailure(t, 'throws-at-import.js', /database url is not set/);
  const mentions = g.count(/database url is not set/);
  t.true(mentions <= 5, `'database url is not set' appeared ${mentions} times`);
  // The place in the user's file is named.
  t.regex(g.stdout(), /throws-at-import\.js:2/);
});

test('boot failure: an app that exits 0 at once exits 3', async (t) => {
  await bootFailure(t, 'exits-at-once.js', /exited \(code 0\) before it was ready/);
});

test('boot failure: an app that never becomes ready exits 3 naming the boot timeout', async (t) => {
  // A worker killed on a boot timeout may print the stack Node gives on SIGINT: that is wanted.
  const g = await bootFailure(
    t,
    'never-ready.js:create()',
    /boot timeout/i,
    ['--boot-timeout', '1'],
    {
      stackAllowed: true,
    },
  );
  t.true(g.count(/worker \d+ \(pid \d+\) not ready after 1s; sending SIGINT for its stack/) >= 1);
  // The worker was idle, not spinning: the log says so instead of pointing at SIGINT handlers.
  t.regex(g.stdout(), /no JavaScript was running: it was waiting/);
});

// ---- help and version -----------------------------------------------------------------------

test('gsup --help lists the commands and exits 0', async (t) => {
  const g = gsup(t, ['--help']);
  t.is(await exitWithin(g), EXIT_OK);
  t.regex(g.stdout(), /Usage: gsup COMMAND/);
  t.regex(g.stdout(), /^\s+start\s+\S/m);
  t.is(g.stderr(), '');
});

test('gsup start --help lists every flag and exits 0', async (t) => {
  const g = gsup(t, ['start', '--help']);
  t.is(await exitWithin(g), EXIT_OK);
  const out = g.stdout();
  t.regex(out, /Usage: gsup start APP/);
  t.true(SETTINGS.length > 5);
  for (const s of SETTINGS) {
    t.true(out.includes(`--${s.flag}`), `--${s.flag} is missing from gsup start --help`);
    if (s.short) t.true(out.includes(`-${s.short}, --${s.flag}`), `-${s.short} is missing`);
  }
  t.true(out.includes('--help'));
  t.is(g.stderr(), '');
});

test('gsup start -h is the same help', async (t) => {
  const long = gsup(t, ['start', '--help']);
  const short = gsup(t, ['start', '-h']);
  t.is(await exitWithin(long), EXIT_OK);
  t.is(await exitWithin(short), EXIT_OK);
  t.is(short.stdout(), long.stdout());
});

test('gsup --version prints the package version and exits 0', async (t) => {
  const g = gsup(t, ['--version']);
  t.is(await exitWithin(g), EXIT_OK);
  t.is(g.stdout().trim().split('\n').length, 1);
  t.true(g.stdout().startsWith(`gsup ${VERSION}`), g.stdout());
  t.is(g.stderr(), '');
});
