// Bad commands through every front door: impossible scale targets, signal storms, garbage on
// the control socket, and a stop that arrives in the middle of a reload.

import { gsupVerb, isAlive, until } from '../../helpers.js';
import { controlPath, raw } from '../lib/control.js';
import { trackedLoad } from '../lib/load.js';
import { startPool, status } from '../lib/pool.js';
import { type Case, exitWithin, intact, sane } from './check.js';

/** `gsup scale ARG` is refused with one line, and the pool stays as it was. */
function scaleRefused(arg: string, code: number, expected: RegExp): Case['run'] {
  return async (t) => {
    const p = await startPool(t, 'misbehaves-on-request.js', 2, ['--max-workers', '4']);
    const r = await gsupVerb(['scale', arg], p.env);
    t.is(r.code, code, r.stderr);
    t.regex(r.stderr, expected);
    t.is(r.stderr.trim().split('\n').length, 1);
    t.is((await status(p)).target, 2);
    await intact(t, p, 2);
  };
}

export const COMMANDS: Case[] = [
  {
    kind: 'gsup scale 0',
    run: scaleRefused('0', 1, /never goes below 1 worker, got 0/),
  },
  {
    kind: 'gsup scale 100000',
    run: scaleRefused('100000', 1, /100000 is above max-workers 4/),
  },
  {
    kind: 'gsup scale with a number that is not one (2.5)',
    run: scaleRefused('2.5', 2, /expected N, \+N or -N, got "2\.5"/),
  },
  {
    kind: 'gsup scale to a negative count (-5 from 2; -3 over the socket)',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      // An absolute negative count can only be said over the socket (on the command line -3
      // means "three fewer"): it is refused.
      const [reply] = await raw(controlPath(p.runtimeDir), '{"cmd":"scale","to":-3}\n', 1);
      t.regex(reply ?? '', /"ok":false.*never goes below 1 worker, got -3/);
      // "five fewer" from 2 would reach -3: refused in the same words, not clamped (issue 10).
      const r = await gsupVerb(['scale', '-5'], p.env);
      t.is(r.code, 1, r.stderr);
      t.regex(r.stderr, /never goes below 1 worker, got -3/);
      t.is((await status(p)).target, 2);
      await intact(t, p, 2);
    },
  },
  {
    kind: 'gsup scale +100000',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 1, ['--max-workers', '3']);
      // Refused like `gsup scale 100001`, not clamped to max-workers (issue 10).
      const r = await gsupVerb(['scale', '+100000'], p.env);
      t.is(r.code, 1, r.stderr);
      t.regex(r.stderr, /100001 is above max-workers 3 \(start gsup with a higher --max-workers\)/);
      t.is((await status(p)).target, 1);
      await intact(t, p, 1);
    },
  },
  {
    kind: 'a HUP storm under load',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      const traffic = trackedLoad(p.base, 8);
      await until('the load is flowing', () => traffic.ok() > 100);
      const from = p.events.length;
      for (let i = 0; i < 50; i++) p.child.kill('SIGHUP');
      // Over when a run has started and no run is going on or queued (a queued run starts in the
      // same turn of the supervisor's loop as the previous one ends, so status never falls between).
      await until('the storm is over', async () => {
        const started = p.countEvents('reload-start', undefined, from) > 0;
        return started && (await status(p)).state === 'running';
      });
      // The log travels on its own pipe: let it catch up with what status said.
      const ended = () =>
        p.countEvents(
          'reload-end',
          (e) => ['done', 'rolled-back', 'abandoned'].includes(e.outcome),
          from,
        );
      const runs = () => p.countEvents('reload-start', undefined, from);
      await until('every run logged its end', () => ended() === runs());
      t.true(runs() >= 1 && runs() <= 3, `${runs()} reload runs for 50 HUPs`);
      t.is(
        p.countEvents('reload-end', (e) => e.outcome === 'done', from),
        runs(),
      );
      const result = await traffic.stop();
      t.is(
        result.failed,
        0,
        result.failures
          .slice(0, 3)
          .map((f) => f.error)
          .join('; '),
      );
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a TTIN/TTOU storm past both limits',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2, ['--max-workers', '4']);
      // The kernel merges a signal into one already pending, so a burst may arrive as one: keep
      // signalling (every poll, 40 a second) until the limit is reported, then the other way.
      await until('the cap is reported', () => {
        p.child.kill('SIGTTIN');
        return p.count(/cannot scale to 5: the pool is capped at max-workers 4/) > 0;
      });
      await until('4 ready', () => p.readyPids().length === 4);
      await until('the floor is reported', () => {
        p.child.kill('SIGTTOU');
        return p.count(/cannot scale to 0: the pool never goes below 1/) > 0;
      });
      await intact(t, p, 1);
    },
  },
  {
    kind: 'garbage on the control socket',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      const path = controlPath(p.runtimeDir);
      const bad: Array<[string | Buffer, RegExp]> = [
        [Buffer.from([0, 255, 254, 10]), /malformed JSON/],
        ['{"cmd":\n', /malformed JSON/],
        ['"status"\n', /expected an object/],
        ['{"cmd":"__proto__"}\n', /unknown command "__proto__"/],
        ['{"cmd":"scale","to":{"n":2}}\n', /scale: expected "to"/],
        ['{"cmd":"kill","pid":-1}\n', /kill: expected "pid"/],
        ['{"cmd":"recycle","pid":999999999}\n', /recycle: no live worker has pid 999999999/],
        [`${'{'.repeat(100_000)}\n`, /longer than 65536 bytes|malformed JSON/],
      ];
      for (const [payload, expected] of bad) {
        const [line] = await raw(path, payload, 1);
        const reply = JSON.parse(line ?? '{}') as { v?: number; ok?: boolean; error?: string };
        t.is(reply.v, 1, 'every reply carries the protocol version');
        t.false(reply.ok);
        t.regex(reply.error ?? '(no reply)', expected, String(payload).slice(0, 40));
      }
      // Clients that connect and vanish, or send half a line and vanish, all at once.
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => raw(path, i % 2 ? '{"cmd":"sta' : '', 1, 50)),
      );
      t.true(isAlive(p.pid));
      t.is((await status(p)).ready, 2);
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a stop in the middle of a reload',
    run: async (t) => {
      const p = await startPool(t, 'slow-boot.js', 2, [], { BOOT_MS: '1500' });
      const reload = gsupVerb(['reload'], p.env);
      await p.waitForEvent('reload-start');
      p.child.kill('SIGTERM');
      const r = await reload;
      t.is(r.code, 1);
      t.regex(r.stderr, /reload abandoned: gsup is stopping/);
      t.is(await exitWithin(p), 0);
      sane(t, p);
    },
  },
  {
    kind: 'TERM, then INT while draining',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      p.child.kill('SIGTERM');
      await p.waitFor(/graceful stop/);
      p.child.kill('SIGINT');
      t.is(await exitWithin(p), 0);
      sane(t, p);
    },
  },
];
