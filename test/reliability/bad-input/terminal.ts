// A terminal resize storm: the real dashboard (dist/), attached to a live gsup over its control
// socket as `gsup top` does, drawn into a headless terminal that is resized 200 times, from
// 1×1 to 300×100. It must not throw, must draw the pool once the storm is over, and the
// supervisor must not notice.

import { remoteCommands, remoteSource } from '../../../dist/cli/remote.js';
import { ControlClient } from '../../../dist/control/client.js';
import { Dashboard } from '../../../dist/dashboard/dashboard.js';
import { until } from '../../helpers.js';
import { HeadlessTerminal } from '../../term.js';
import { controlPath } from '../lib/control.js';
import { startPool } from '../lib/pool.js';
import { type Case, intact } from './check.js';

export const TERMINAL: Case[] = [
  {
    kind: 'a terminal resize storm (200 resizes)',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      const client = await ControlClient.connect(controlPath(p.runtimeDir), 'default');
      const term = new HeadlessTerminal(120, 40);
      const errors: unknown[] = [];
      const dash = new Dashboard({
        source: await remoteSource(client),
        commands: remoteCommands(client),
        quit: 'detach',
        refreshMs: 100,
        input: term.input,
        output: term.output,
        onError: (err) => errors.push(err),
      });
      t.teardown(() => {
        dash.destroy();
        client.close();
      });
      dash.start();
      const shows = (re: RegExp) =>
        until(`the screen shows ${re}`, () => re.test(term.text())).catch((err: Error) => {
          throw new Error(`${err.message}\n${term.text()}`);
        });
      await shows(/workers 2\/2 ready/);
      const sizes: Array<[number, number]> = [
        [1, 1],
        [2, 1],
        [300, 100],
        [20, 5],
        [80, 24],
      ];
      for (let i = 0; i < 200; i++) {
        const [cols, rows] = sizes[i % sizes.length] ?? [80, 24];
        // Varied around each base size so no two neighbouring resizes are the same.
        term.resize(cols + (i % 7), rows + (i % 3));
        // Every few resizes let the dashboard draw, as a window being dragged does.
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      term.resize(120, 40);
      await shows(/workers 2\/2 ready/);
      for (const pid of p.readyPids()) t.regex(term.text(), new RegExp(`\\b${pid}\\b`));
      t.deepEqual(errors, []);
      dash.destroy();
      client.close();
      await intact(t, p, 2);
    },
  },
];
