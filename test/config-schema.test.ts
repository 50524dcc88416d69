// The settings schema as data: the Config type and its defaults derived from it, each setting's
// reload kind, the hooks as schema entries, and the lines a reload logs for restart-only settings.
// Pure: no process, no file.

import test from 'ava';
import { reloadLines } from '../src/cli/check.js';
import { hookFor } from '../src/cli/hooks.js';
import { ConfigError, checkValue, merge } from '../src/config/parse.js';
import { restartNotes, sameValue } from '../src/config/reload.js';
import {
  type Config,
  defaults,
  HOOKS,
  type HookEvent,
  RELOAD_KINDS,
  SETTINGS,
} from '../src/config/schema.js';

test('defaults: one typed value per setting, read from the environment where it says so', (t) => {
  const c: Config = defaults({ WEB_CONCURRENCY: '3', PORT: '9100' });
  // Typed reads, no casts: these lines do not compile if the derived type is wrong.
  const workers: number = c.workers;
  const bind: string[] = c.bind;
  const tui: boolean = c.tui;
  const logFile: string | null = c.logFile;
  const umask: number | null = c.umask;
  t.is(workers, 3);
  t.deepEqual(bind, ['0.0.0.0:9100']);
  t.true(tui);
  t.is(logFile, null);
  t.is(umask, null);
  t.deepEqual(Object.keys(c).sort(), SETTINGS.map((s) => s.key).sort());
  const plain = defaults({});
  t.deepEqual(plain.bind, ['127.0.0.1:8000']);
  t.is(plain.backlog, 2048);
  t.is(plain.timeout, 30);
  t.is(plain.name, 'default');
  t.deepEqual(plain.env, []);
  t.true(plain.controlEnabled);
});

test('merge builds the same full config as the defaults when no layer sets anything', (t) => {
  const { config, sources } = merge([], {});
  t.deepEqual(config, { ...defaults({}), maxWorkers: Math.max(64, config.workers) });
  t.true(Object.values(sources).every((s) => s === 'default'));
});

test('each setting declares one of the reload kinds, and the obvious ones are right', (t) => {
  const kinds: string[] = RELOAD_KINDS.map((k) => k.kind);
  for (const s of SETTINGS) t.true(kinds.includes(s.reload), `${s.key}: ${s.reload}`);
  const kindOf = (key: keyof Config) => SETTINGS.find((s) => s.key === key)?.reload;
  t.is(kindOf('workers'), 'count');
  t.is(kindOf('bind'), 'rebind');
  t.is(kindOf('timeout'), 'live');
  t.is(kindOf('maxWorkers'), 'live');
  t.is(kindOf('nodeArg'), 'new-workers');
  t.is(kindOf('env'), 'new-workers');
  for (const key of ['name', 'control', 'pidfile', 'tui', 'logFile'] as const)
    t.is(kindOf(key), 'restart', key);
});

test('gsup check names every setting once under its reload kind', (t) => {
  const lines = reloadLines();
  t.is(lines.length, 1 + RELOAD_KINDS.length);
  const named = lines.slice(1).flatMap(
    (l) =>
      l
        .trim()
        .split(/\s{2,}/)[1]
        ?.split(', ') ?? [],
  );
  t.is(named.length, SETTINGS.length);
  t.regex(lines.find((l) => l.includes('sockets')) ?? '', /sockets opened and closed\s+bind$/);
});

test('restartNotes: one line per restart-only setting that changed, nothing for the others', (t) => {
  const running = defaults({});
  t.deepEqual(restartNotes(running, defaults({})), []);
  t.deepEqual(restartNotes(running, { ...running, timeout: 5, bind: ['127.0.0.1:1'] }), []);
  t.deepEqual(restartNotes(running, { ...running, name: 'web' }), [
    'name changed in the config file (default → web); it takes effect when gsup is restarted',
  ]);
  t.deepEqual(
    restartNotes(running, { ...running, logFile: '/var/log/gsup.log', umask: 0o27, tui: false }),
    [
      'tui changed in the config file (true → false); it takes effect when gsup is restarted',
      'logFile changed in the config file (unset → /var/log/gsup.log); it takes effect when gsup is restarted',
      'umask changed in the config file (unset → 0027); it takes effect when gsup is restarted',
    ],
  );
});

test('sameValue compares lists by their items', (t) => {
  t.true(sameValue(['a', 'b'], ['a', 'b']));
  t.false(sameValue(['a', 'b'], ['b', 'a']));
  t.false(sameValue(['a'], 'a'));
  t.true(sameValue(null, null));
  t.false(sameValue(null, 0));
});

test('hooks are schema entries: unique names, each typed event followed by one hook', (t) => {
  const names = HOOKS.map((h) => h.name);
  t.is(new Set(names).size, names.length);
  t.true(HOOKS.every((h) => h.name.startsWith('on') && h.doc.length > 0));
  const events = HOOKS.flatMap((h) => (h.event ? [h.event] : []));
  t.is(new Set(events).size, events.length);
  const event: HookEvent = 'worker-exit';
  t.is(hookFor(event), 'onWorkerExit');
  t.is(hookFor('worker-drain'), null);
  t.is(HOOKS.find((h) => h.name === 'onStarting')?.event, null);
});

test('a bad item in a list setting names that item, not the whole list', (t) => {
  const env = SETTINGS.find((s) => s.key === 'env');
  if (!env) throw new Error('no env setting');
  t.deepEqual(checkValue(env, ['A=1', 'B=2'], 'the command line'), ['A=1', 'B=2']);
  const err = t.throws(() => checkValue(env, ['A=1', 'oops'], 'the command line'), {
    instanceOf: ConfigError,
  });
  t.is(err?.message, 'env: expected KEY=VALUE, got "oops" (from the command line)');
});
