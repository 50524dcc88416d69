// Where the control socket may live, for a service user without a home: gsup never creates a
// missing home (not even as root), says in one line what to do when the directory is unusable,
// and exits 2 (a setup mistake: systemd's RestartPreventExitStatus=2 stops a restart loop).
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { gsup, gsupVerb, tempDir } from './helpers.js';

const START = ['start', 'slow.js', '-w', '1', '-b', '127.0.0.1:0', '--no-tui'];
const asRoot = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
const rootTest = asRoot ? test : test.skip;
/** Runs the gsup command as `nobody`, as systemd runs a service with User=nobody. */
const AS_NOBODY = 'exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$0" "$@"';
/** The one-line error's parts: the directory's problem and every way out. */
const NOBODY = 65534;
const FIX = /--control PATH.*RuntimeDirectory=.*XDG_RUNTIME_DIR.*--no-control$/;

rootTest(
  'as nobody with HOME=/nonexistent: exit 2 and one line naming --control and --no-control',
  async (t) => {
    const g = gsup(t, START, {
      env: { HOME: '/nonexistent', XDG_RUNTIME_DIR: undefined },
      shell: AS_NOBODY,
    });
    t.is(await g.exited, 2);
    const lines = g.stderr().trim().split('\n');
    t.is(lines.length, 1, g.stderr());
    t.regex(
      lines[0] ?? '',
      /^gsup: cannot create the control socket directory \/nonexistent\/\.gsup: \/nonexistent does not exist/,
    );
    t.regex(lines[0] ?? '', FIX);
    t.is(g.countEvents('worker-spawn'), 0);
  },
);

test('with HOME pointing at a missing directory gsup does not create it, even as root', async (t) => {
  const home = join(tempDir(t, 'nohome'), 'home', 'app');
  const g = gsup(t, START, { env: { HOME: home, XDG_RUNTIME_DIR: undefined } });
  t.is(await g.exited, 2);
  t.regex(g.stderr().trim(), FIX);
  t.false(existsSync(home), `${home} was created`);
  t.false(existsSync(join(home, '..')), 'nor its parent');
});

test('a home that exists gets its own ~/.gsup, mode 0700', async (t) => {
  const home = tempDir(t, 'home');
  const g = gsup(t, START, { env: { HOME: home, XDG_RUNTIME_DIR: undefined } });
  await g.waitForEvent('pool-ready');
  t.is(statSync(join(home, '.gsup')).mode & 0o777, 0o700);
  t.is((await gsupVerb(['status', '--json'], { HOME: home, XDG_RUNTIME_DIR: undefined })).code, 0);
});

rootTest(
  'as nobody with no home, --control in a runtime directory it owns (systemd RuntimeDirectory=) works',
  async (t) => {
    const dir = tempDir(t, 'runtime');
    chmodSync(dir, 0o755);
    const run = join(dir, 'myapp');
    mkdirSync(run, { mode: 0o755 });
    chownSync(run, NOBODY, NOBODY);
    const path = join(run, 'control.sock');
    const g = gsup(t, [...START, '--control', path], {
      env: { HOME: '/nonexistent', XDG_RUNTIME_DIR: undefined },
      shell: AS_NOBODY,
    });
    await g.waitForEvent('pool-ready');
    t.is(statSync(path).uid, NOBODY);
    const status = await gsupVerb(['status', '--json', '--control', path]);
    t.is(status.code, 0, status.stderr);
    g.child.kill('SIGTERM');
    t.is(await g.exited, 0);
  },
);

test('--control in a folder whose parent is missing: one line, exit 2, nothing created', async (t) => {
  const dir = tempDir(t, 'deep');
  const g = gsup(t, [...START, '--control', join(dir, 'a', 'b', 'c.sock')]);
  t.is(await g.exited, 2);
  t.regex(g.stderr(), /a does not exist.*--no-control/);
  t.false(existsSync(join(dir, 'a')));
});
