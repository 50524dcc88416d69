// `gsup logs -f` across an upgrade of gsup itself: plain child processes (one reading JSON, one
// text) against a headless instance, USR2. The old supervisor's connection closes when it exits;
// the readers must move to the new one and print its lines, and end only on a real stop.

import { join } from 'node:path';
import test from 'ava';
import { get, gsup, gsupVerb, upgradeUntilOldExits } from './helpers.js';

test('gsup logs -f follows an upgrade (USR2) to the new supervisor, prints its lines once, and a stop ends it saying so', async (t) => {
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0', '--no-tui']);
  const url = await g.url();
  await g.waitForEvent('pool-ready');
  const oldPid = g.pid;
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  const control = join(g.runtimeDir, 'gsup', 'default.sock');
  // The JSON reader's lines are read back as typed events; the text one is what a person reads.
  const json = gsup(t, ['logs', '-f', '--json', '--control', control]);
  const text = gsup(t, ['logs', '-f', '--control', control], { format: 'text' });
  await json.waitForEvent('pool-ready');
  await text.waitFor(/\[gsup\] INFO {2}all 2 workers ready$/);

  // The old supervisor's exit closes the connection the readers had.
  const newPid = await upgradeUntilOldExits(t, g);
  // The new supervisor's kept lines reach the readers, with its word that it took over.
  await json.waitForEvent('upgrade-took-over', (e) => e.oldPid === oldPid && e.newPid === newPid);
  const tookOver = new RegExp(`this gsup \\(pid ${newPid}\\) now answers the control socket$`);
  await text.waitFor(tookOver);

  // An event the new supervisor says now, and a line one of its workers prints now.
  const scale = await gsupVerb(['scale', '3'], env);
  t.is(scale.code, 0, scale.stderr);
  await json.waitForEvent('scale', (e) => e.from === 2 && e.to === 3);
  await text.waitFor(/\[gsup\] INFO {2}scaling from 2 to 3 workers$/);
  const reply = await get(`${url}/slow?log=1&after=upgrade`);
  const worker = Number(/done (\d+)/.exec(reply.body)?.[1]);
  const printed = new RegExp(`\\[w\\d+ ${worker}\\] got /slow\\?log=1&after=upgrade$`);
  await json.waitFor(printed);
  await text.waitFor(printed);
  t.is(json.child.exitCode, null);
  t.is(text.child.exitCode, null);

  // A plain stop ends both, saying the instance stopped (not that an upgrade lost it).
  const stop = await gsupVerb(['stop'], env);
  t.is(stop.code, 0, stop.stderr);
  t.is(await json.exited, 0);
  t.is(await text.exited, 0);
  t.is(json.stderr(), 'gsup: logs: the instance stopped\n');
  t.is(text.stderr(), 'gsup: logs: the instance stopped\n');
  // The new supervisor's `stopped` came through before the end (the old one may say it too).
  const scaled = json.events.findIndex((e) => e.type === 'scale');
  t.true(json.events.findLastIndex((e) => e.type === 'stopped') > scaled);

  // Nothing printed twice across the switch: each supervisor's lines came from its own stream.
  for (const type of ['upgrade-start', 'upgrade-done', 'upgrade-took-over'] as const)
    t.is(json.countEvents(type), 1, type);
  const ready = json.events.flatMap((e) => (e.type === 'worker-ready' ? [e.pid] : []));
  t.is(new Set(ready).size, ready.length, 'each worker-ready once');
  t.true(ready.includes(worker));
  // The new supervisor's workers booted before the readers moved: their lines came from its history.
  const from = g.events.findIndex((e) => e.type === 'upgrade-start');
  const to = g.events.findIndex((e) => e.type === 'upgrade-took-over');
  const booted = g.events
    .slice(from, to)
    .flatMap((e) => (e.type === 'worker-ready' ? [e.pid] : []));
  t.is(booted.length, 2);
  for (const pid of booted) t.true(ready.includes(pid), `worker ${pid} ready`);
  t.is(text.count(tookOver), 1);
});
