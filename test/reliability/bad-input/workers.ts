// Bad input from the app's side, after it booted: workers that ignore SIGTERM, flood stdout,
// send garbage over IPC, crash, throw, hang, or listen for SIGINT; and a client sending garbage.

import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { liveRssKb as rssKb } from '../../../harness/procfs.js';
import { get, gsup, gsupVerb, tempDir, until } from '../../helpers.js';
import { startPool, status } from '../lib/pool.js';
import { type Case, exitWithin, intact } from './check.js';

export const WORKERS: Case[] = [
  {
    kind: 'a worker that ignores SIGTERM',
    run: async (t) => {
      const p = await startPool(t, 'ignores-sigterm.js', 2, ['--graceful-timeout', '1']);
      const r = await gsupVerb(['reload'], p.env);
      t.is(r.code, 0, r.stderr);
      t.regex(r.stdout, /reload done/);
      t.is(p.count(/did not drain within 1s; SIGKILL/), 2);
      t.is(p.count(/ignores SIGTERM/), 2, 'the app saw the SIGTERM and ignored it');
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a worker that floods stdout',
    run: async (t) => {
      // The log goes to a file: a pipe into this test would make the test, not gsup, the bottleneck.
      const log = `${tempDir(t, 'flood')}/gsup.log`;
      const args = ['start', 'floods-stdout.js', '-w', '2', '-b', '127.0.0.1:0', '--log-file', log];
      // Text format: the check below reads the log file as a person would.
      const g = gsup(t, [...args, '--no-tui'], { format: 'text' });
      const env = { XDG_RUNTIME_DIR: g.runtimeDir };
      let base = '';
      await until('the pool is up', async () => {
        const r = await gsupVerb(['status', '--json'], env);
        if (r.code !== 0) return false;
        const snap = JSON.parse(r.stdout) as { ready: number; listening: string[] };
        base = snap.listening[0] ?? '';
        return snap.ready === 2;
      });
      await until('20 MB of worker output reached the log', () => statSync(log).size > 20e6);
      // Meanwhile requests are answered and the supervisor answers and stays small.
      for (let i = 0; i < 10; i++) t.is((await get(base)).status, 200);
      t.is((await gsupVerb(['status'], env)).code, 0);
      const rssMb = rssKb(g.pid) / 1024;
      t.true(rssMb < 300, `the supervisor grew to ${rssMb.toFixed(0)} MB`);
      g.child.kill('SIGTERM');
      t.is(await exitWithin(g), 0);
      const own = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => / \[gsup\] /.test(l));
      t.true(own.some((l) => /stopped$/.test(l)));
      t.false(own.some((l) => /internal error/i.test(l)));
    },
  },
  {
    kind: 'a worker that sends garbage over IPC',
    run: async (t) => {
      const p = await startPool(t, 'sends-bad-ipc.js', 2);
      const pids = p.readyPids().sort();
      for (let i = 0; i < 20; i++) t.is((await get(p.base)).status, 200);
      // Heartbeats still get through the garbage: the counts arrive.
      await until(
        'heartbeats count the 20 requests',
        async () => (await status(p)).totals.requests === 20,
      );
      const ignored = p.lines.filter((l) => /sent .*; ignored/.test(l));
      t.true(ignored.length >= 1 && ignored.length <= 6, `${ignored.length} lines about garbage`);
      t.is(p.count(/recycling|draining|exited/), 0, 'garbage changed the pool');
      t.deepEqual(p.readyPids().sort(), pids);
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a worker that writes raw bytes onto its IPC fd',
    run: async (t) => {
      const p = await startPool(t, 'corrupts-ipc-fd.js', 2);
      t.is((await get(`${p.base}/garbage`)).status, 200);
      await p.waitFor(/a worker wrote garbage onto its IPC channel/);
      for (let i = 0; i < 10; i++) t.is((await get(p.base)).status, 200);
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a worker that exits in the middle of a request',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      await t.throwsAsync(
        get(`${p.base}/crash`),
        undefined,
        'the crashed request cannot be answered',
      );
      await p.waitForEvent(
        'worker-exit',
        (e) => e.cause === 'crashed' && e.code === 1 && !e.stopping,
      );
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a request handler that throws',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2);
      await t.throwsAsync(get(`${p.base}/throw`));
      await p.waitFor(/thrown in a request handler/);
      await p.waitForEvent(
        'worker-exit',
        (e) => e.cause === 'crashed' && e.code === 1 && !e.stopping,
      );
      await intact(t, p, 2);
    },
  },
  {
    kind: 'a worker whose event loop hangs',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 2, ['-t', '1']);
      get(`${p.base}/spin`).catch(() => undefined);
      await p.waitFor(/WORKER TIMEOUT: worker \d+ \(pid \d+\) sent no heartbeat/);
      await p.waitFor(/killed after timeout .*stuck in spinForever/);
      await intact(t, p, 2);
    },
  },
  {
    kind: 'an app that listens for SIGINT',
    run: async (t) => {
      const p = await startPool(t, 'traps-sigint.js', 1);
      await p.waitFor(/the app listens for SIGINT, which switches off --trace-sigint/);
      await intact(t, p, 1);
    },
  },
  {
    kind: 'a client that sends garbage instead of HTTP',
    run: async (t) => {
      const p = await startPool(t, 'misbehaves-on-request.js', 1);
      const answer = await new Promise<string>((resolve) => {
        const s = net.connect(p.port, '127.0.0.1', () =>
          s.write('\x16\x03\x01 not http at all\r\n\r\n'),
        );
        let data = '';
        s.on('data', (c) => {
          data += c;
        });
        s.on('close', () => resolve(data));
        s.on('error', () => resolve(data));
      });
      t.regex(answer, /^HTTP\/1\.1 400/);
      t.is(p.count(/exited/), 0);
      await intact(t, p, 1);
    },
  },
];
