// Bad input before anything serves: configuration, and apps that cannot boot.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { tempDir } from '../../helpers.js';
import { type Case, cannotBoot, refused } from './check.js';

export const STARTUP: Case[] = [
  {
    kind: 'bad config: a flag value (-w abc)',
    run: (t) =>
      refused(t, ['start', 'misbehaves-on-request.js', '-w', 'abc'], 2, /workers: .*"abc"/),
  },
  {
    kind: 'bad config: an unknown flag',
    run: (t) =>
      refused(
        t,
        ['start', 'misbehaves-on-request.js', '--wrokers', '2'],
        2,
        /unknown option --wrokers; did you mean --workers\?/,
      ),
  },
  {
    kind: 'bad config: an environment variable (WEB_CONCURRENCY=-2)',
    run: (t) =>
      refused(t, ['start', 'misbehaves-on-request.js'], 2, /workers: .*"-2".*WEB_CONCURRENCY/, {
        env: { WEB_CONCURRENCY: '-2' },
      }),
  },
  {
    kind: 'bad config: a bind address (port 99999)',
    run: (t) =>
      refused(
        t,
        ['start', 'misbehaves-on-request.js', '-b', '127.0.0.1:99999'],
        2,
        /bind: .*99999/,
      ),
  },
  {
    kind: 'bad config: a config file with a wrong value',
    run: (t) => {
      const dir = tempDir(t, 'conf');
      writeFileSync(`${dir}/bad.json`, '{"workers": "lots"}\n');
      return refused(
        t,
        ['start', 'misbehaves-on-request.js', '-c', `${dir}/bad.json`],
        2,
        /workers: .*"lots".*bad\.json/,
      );
    },
  },
  {
    kind: 'bad config: a config file that is not JSON',
    run: (t) => {
      const dir = tempDir(t, 'conf');
      writeFileSync(`${dir}/bad.json`, '{"workers": 2\n');
      return refused(
        t,
        ['start', 'misbehaves-on-request.js', '-c', `${dir}/bad.json`],
        2,
        /bad\.json.*JSON/,
      );
    },
  },
  {
    kind: 'the address is in use',
    run: async (t) => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      t.teardown(() => holder.close());
      const { port } = holder.address() as net.AddressInfo;
      await refused(
        t,
        ['start', 'misbehaves-on-request.js', '-b', `127.0.0.1:${port}`, '--no-tui'],
        1,
        new RegExp(`127\\.0\\.0\\.1:${port}`),
      );
    },
  },
  {
    kind: 'a missing app',
    run: (t) => refused(t, ['start', 'no-such-app.js'], 2, /app not found: no-such-app\.js/),
  },
  {
    kind: 'an app that throws at import',
    run: async (t) => {
      const g = await cannotBoot(t, 'throws-at-import.js', /database url is not set/);
      t.regex(g.stdout(), /throws-at-import\.js:2/, 'the place in the app is named');
    },
  },
  {
    kind: 'an app that exits 0 at once',
    run: (t) =>
      cannotBoot(t, 'exits-at-once.js', /exited \(code 0\) before it was ready/).then(
        () => undefined,
      ),
  },
  {
    kind: 'an app that never listens (its factory never settles)',
    run: (t) =>
      cannotBoot(t, 'never-ready.js:create()', /boot timeout/, ['--boot-timeout', '1']).then(
        () => undefined,
      ),
  },
  {
    kind: 'an app that calls listen() itself',
    run: (t) =>
      cannotBoot(
        t,
        'listens-itself.js',
        /already listening; export it without calling \.listen\(\)/,
      ).then(() => undefined),
  },
  {
    kind: 'an export that is not an app (42)',
    run: (t) => cannotBoot(t, 'not-an-app.js', /is a number \(42\)/).then(() => undefined),
  },
];
