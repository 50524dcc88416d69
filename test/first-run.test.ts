// What a new user meets first (issue 14, items 8-12): apps written the way tutorials write them,
// typos in verbs, files and flags. Each message names the fix. Real CLI runs, plus the pure rules.

import test from 'ava';
import { freePort } from '../harness/ports.js';
import { checkAppFile, parseAppSpec } from '../src/app-spec.js';
import { unknownVerb } from '../src/cli/main.js';
import { EXIT_BOOT_ERROR } from '../src/exit-codes.js';
import { editDistance, suggest } from '../src/suggest.js';
import { describeListen } from '../src/worker/own-listen.js';
import { FIXTURES, get, gsup } from './helpers.js';

// ---- pure rules ---------------------------------------------------------------------------

test('editDistance counts a swap of neighbours as one edit', (t) => {
  t.is(editDistance('stauts', 'status'), 1);
  t.is(editDistance('stauts', 'start'), 2);
  t.is(editDistance('strat', 'start'), 1);
  t.is(editDistance('', 'abc'), 3);
  t.is(editDistance('same', 'same'), 0);
  t.is(suggest('wokers', ['workers', 'bind']), 'workers');
  t.is(suggest('frobnicate', ['workers', 'bind']), null);
});

test('a typo of a read-only verb is never pointed at the verb that starts a server', (t) => {
  t.regex(unknownVerb('stauts'), /did you mean status\?/);
  t.regex(unknownVerb('stat'), /did you mean status\?/);
  t.regex(unknownVerb('sttaus'), /did you mean status\?/);
  // A typo of start itself still gets start.
  t.regex(unknownVerb('strat'), /did you mean start\?/);
  t.regex(unknownVerb('restart'), /no restart; did you mean gsup reload\?/);
  t.notRegex(unknownVerb('zzzzzz'), /did you mean/);
});

test('app specs: FILE() calls the default export; the error explains every form', (t) => {
  t.deepEqual(parseAppSpec('app.js()'), { file: 'app.js', exportName: null, factory: true });
  t.deepEqual(parseAppSpec('app.js:create()'), {
    file: 'app.js',
    exportName: 'create',
    factory: true,
  });
  t.deepEqual(parseAppSpec('app.mjs:handler'), {
    file: 'app.mjs',
    exportName: 'handler',
    factory: false,
  });
  t.deepEqual(parseAppSpec('app.js'), { file: 'app.js', exportName: null, factory: false });
  t.regex(String(parseAppSpec('')), /FILE\(\)/);
});

test('a missing app file gets the nearest file that exists', (t) => {
  const spec = (file: string) => ({ file, exportName: null, factory: false });
  t.regex(checkAppFile(spec('slo.js'), FIXTURES) ?? '', /did you mean slow\.js\?$/);
  t.regex(checkAppFile(spec('slow'), FIXTURES) ?? '', /did you mean slow\.js\?$/);
  t.regex(checkAppFile(spec('./cjs-app'), FIXTURES) ?? '', /did you mean cjs-app\.cjs\?$/);
  t.notRegex(checkAppFile(spec('zzzzzzzz.js'), FIXTURES) ?? '', /did you mean/);
  t.is(checkAppFile(spec('slow.js'), FIXTURES), null);
});

test('describeListen says where a listen() call listens', (t) => {
  t.is(describeListen([3000]), '*:3000');
  t.is(describeListen(['3000']), '*:3000');
  t.is(describeListen([3000, '127.0.0.1', () => undefined]), '127.0.0.1:3000');
  t.is(describeListen([{ port: 8080, host: 'localhost' }]), 'localhost:8080');
  t.is(describeListen([{ path: '/tmp/x.sock' }]), 'unix:/tmp/x.sock');
  t.is(describeListen(['/tmp/x.sock']), 'unix:/tmp/x.sock');
  t.is(describeListen([]), 'a random port');
  t.is(describeListen([0]), 'a random port');
});

// ---- the real CLI -------------------------------------------------------------------------

const start = (app: string, ...extra: string[]) => [
  'start',
  app,
  '-b',
  '127.0.0.1:0',
  '--no-tui',
  ...extra,
];

test('an app that listens itself and exports nothing is told to export the app and drop listen()', async (t) => {
  const port = await freePort();
  const g = gsup(
    t,
    start('listens-and-exports-nothing.cjs', '-w', '1', '--env', `OWN_PORT=${port}`),
  );
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(fail.error, /listens-and-exports-nothing\.cjs exports nothing/);
  t.regex(fail.error, /module\.exports = app \(CommonJS\) or export default app \(ESM\)/);
  t.regex(
    fail.error,
    new RegExp(
      `listen\\(\\) itself \\(127\\.0\\.0\\.1:${port}, at listens-and-exports-nothing\\.cjs:\\d+`,
    ),
  );
  t.regex(fail.error, /remove that call/);
});

test('an ES module that exports nothing is told how to export the app', async (t) => {
  const g = gsup(t, start('exports-nothing.mjs', '-w', '1'));
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(fail.error, /exports-nothing\.mjs exports nothing; export the app/);
});

test('an app that exports itself and also calls listen() is warned about once, with the port and the fix', async (t) => {
  const g = gsup(t, start('listens-and-exports.cjs', '-w', '2'));
  await g.waitForEvent('pool-ready', (e) => e.workers === 2);
  // Both workers called listen(); the same address is said once for the pool.
  const warn = await g.waitForEvent('app-listens');
  t.is(g.countEvents('app-listens'), 1, g.lines.join('\n'));
  t.is(warn.level, 'warn');
  t.regex(warn.message, /opened its own server on a random port \(listens-and-exports\.cjs:\d+/);
  t.regex(warn.message, /Remove the listen\(\) call and export the app/);
  t.regex(warn.where ?? '', /^listens-and-exports\.cjs:\d+/);
  // The pool still serves on gsup's own socket.
  t.is((await get(await g.url())).body, 'pool\n');
});

test('an app that listens on a fixed port names that port in its one warning', async (t) => {
  const port = await freePort();
  const g = gsup(t, start('listens-and-exports.cjs', '-w', '1', '--env', `OWN_PORT=${port}`));
  const warn = await g.waitForEvent('app-listens');
  t.is(warn.address, `127.0.0.1:${port}`);
  t.true(warn.message.includes(`127.0.0.1:${port}`));
});

test('an app without listen() gets no such warning', async (t) => {
  const g = gsup(t, start('slow.js', '-w', '1'));
  await g.waitForEvent('pool-ready');
  t.is(g.countEvents('app-listens'), 0);
});

test('FILE() starts the default export as a factory', async (t) => {
  const g = gsup(t, start('default-factory.mjs()', '-w', '1'));
  await g.waitForEvent('pool-ready');
  t.is((await get(await g.url())).body, 'made by the default factory\n');
});

test('JSON.parse throwing at import names the line of the app that called it', async (t) => {
  const g = gsup(t, start('parses-json-at-import.js', '-w', '1'));
  t.is(await g.exited, EXIT_BOOT_ERROR, g.lines.join('\n'));
  const fail = await g.waitForEvent('give-up');
  t.regex(
    fail.error,
    /SyntaxError: "undefined" is not valid JSON \(at parses-json-at-import\.js:2:\d+\)/,
  );
});
