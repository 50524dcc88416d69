// The command table and the one scale policy, as pure logic: no process, no socket.
import test from 'ava';
import {
  COMMANDS,
  keyBinding,
  keyBindings,
  type Pool,
  runRequest,
  signalBindings,
  VIEW_KEYS,
  verbCommand,
} from '../dist/commands.js';
import { checkScale, formatScale, parseScale } from '../dist/scale.js';

const ABOVE = (n: number, max: number) =>
  `${n} is above max-workers ${max} (start gsup with a higher --max-workers)`;

test('checkScale: {to} and {by} within 1..max move there; a no-op is ok', (t) => {
  t.deepEqual(checkScale(2, { to: 5 }, 8), { ok: true, from: 2, to: 5 });
  t.deepEqual(checkScale(2, { by: 3 }, 8), { ok: true, from: 2, to: 5 });
  t.deepEqual(checkScale(5, { by: -4 }, 8), { ok: true, from: 5, to: 1 });
  t.deepEqual(checkScale(8, { to: 8 }, 8), { ok: true, from: 8, to: 8 });
  t.deepEqual(checkScale(3, { by: 0 }, 8), { ok: true, from: 3, to: 3 });
});

test('checkScale: below 1 is refused, not clamped, for {to} and {by} alike', (t) => {
  t.deepEqual(checkScale(2, { to: 0 }, 64), {
    ok: false,
    error: 'the pool never goes below 1 worker, got 0',
  });
  t.deepEqual(checkScale(1, { by: -1 }, 64), {
    ok: false,
    error: 'the pool never goes below 1 worker, got 0',
  });
  t.deepEqual(checkScale(2, { by: -5 }, 64), {
    ok: false,
    error: 'the pool never goes below 1 worker, got -3',
  });
});

test('checkScale: above max-workers is refused with the value and the fix', (t) => {
  t.deepEqual(checkScale(2, { to: 100000 }, 64), { ok: false, error: ABOVE(100000, 64) });
  t.deepEqual(checkScale(2, { by: 70 }, 64), { ok: false, error: ABOVE(72, 64) });
});

test('checkScale: `scale 70` and `scale +70` at max-workers 64 get the same answer', (t) => {
  // From 0 the two doors reach the same number; from 2 they differ only in that number.
  t.deepEqual(checkScale(0, { to: 70 }, 64), checkScale(0, { by: 70 }, 64));
  const to = checkScale(2, { to: 70 }, 64);
  const by = checkScale(2, { by: 68 }, 64);
  t.deepEqual(to, by);
  t.deepEqual(to, { ok: false, error: ABOVE(70, 64) });
});

test('checkScale: a count that is not a whole number is refused, whichever door', (t) => {
  for (const req of [{ to: 2.5 }, { by: 1.5 }, { to: Number.NaN }, { by: Infinity }]) {
    const r = checkScale(2, req, 8);
    t.false(r.ok, JSON.stringify(req));
    if (!r.ok) {
      t.regex(r.error, /^expected a whole number of workers, got \S+ \(use N, \+N or -N/);
      t.false(r.error.includes('\n'));
    }
  }
});

test('parseScale: N sets, +N / -N change; anything else is null', (t) => {
  t.deepEqual(parseScale('8'), { to: 8 });
  t.deepEqual(parseScale(' 8 '), { to: 8 });
  t.deepEqual(parseScale(8), { to: 8 });
  t.deepEqual(parseScale(-3), { to: -3 });
  t.deepEqual(parseScale('+70'), { by: 70 });
  t.deepEqual(parseScale('-1'), { by: -1 });
  t.deepEqual(parseScale('0'), { to: 0 });
  for (const bad of ['', 'many', '2.5', '+', '++1', '1e3', '12345678', 2.5, null, undefined, {}]) {
    t.is(parseScale(bad), null, JSON.stringify(bad) ?? 'undefined');
  }
  for (const req of [{ to: 8 }, { by: 2 }, { by: -1 }, { by: 0 }]) {
    t.deepEqual(parseScale(formatScale(req)), req, formatScale(req));
  }
});

test('every command has a name, a one-line doc and, if it has a verb, a usage', (t) => {
  const names = COMMANDS.map((c) => c.name);
  t.is(new Set(names).size, names.length, `names: ${names.join(', ')}`);
  for (const c of COMMANDS) {
    t.regex(c.name, /^[a-z]+$/);
    t.true(c.doc.length > 10 && !c.doc.includes('\n'), `${c.name}: doc`);
    if (c.cli) {
      t.true(c.cli.usage.startsWith(`gsup ${c.cli.verb}`), `${c.name}: usage`);
      t.true(c.cli.doc.length > 10 && !c.cli.doc.includes('\n'), `${c.name}: verb doc`);
      t.is(verbCommand(c.cli.verb), c);
    }
    for (const k of c.keys ?? []) t.true(k.keys.length > 0, `${c.name}: a binding without keys`);
    // Every command is reachable through at least one door (`ls` through its CLI verb alone).
    t.true(
      c.control || (c.signals?.length ?? 0) > 0 || (c.keys?.length ?? 0) > 0 || c.cli !== undefined,
      `${c.name}: no door`,
    );
  }
});

test('keys and signals are unique across the table, and view keys clash with none', (t) => {
  const signals = signalBindings().map((s) => s.signal);
  t.is(new Set(signals).size, signals.length, `signals: ${signals.join(', ')}`);
  const keys = [...keyBindings().flatMap((b) => b.keys), ...VIEW_KEYS.flatMap((v) => v.keys)];
  t.is(new Set(keys).size, keys.length, `keys: ${keys.join(' ')}`);
  const verbs = COMMANDS.flatMap((c) => (c.cli ? [c.cli.verb] : []));
  t.is(new Set(verbs).size, verbs.length);
});

test('the doors Gunicorn users know: HUP, TTIN/TTOU, TERM, INT/QUIT, USR1, USR2', (t) => {
  const bySignal = Object.fromEntries(
    signalBindings().map((s) => [s.signal, [s.command.name, s.args]]),
  );
  t.deepEqual(bySignal, {
    SIGHUP: ['reload', {}],
    SIGTTIN: ['scale', { by: 1 }],
    SIGTTOU: ['scale', { by: -1 }],
    SIGTERM: ['stop', { quick: false }],
    SIGINT: ['stop', { quick: true }],
    SIGQUIT: ['stop', { quick: true }],
    SIGUSR1: ['reopen', {}],
    SIGUSR2: ['upgrade', {}],
  });
  const ctx = { selected: { pid: 123, slot: 2 }, stopping: false };
  const key = (ch: string, name?: string) => {
    const b = keyBinding(ch, name ?? ch);
    return b ? [b.command.name, b.args(ctx)] : null;
  };
  t.deepEqual(key('+'), ['scale', { by: 1 }]);
  t.deepEqual(key('='), ['scale', { by: 1 }]);
  t.deepEqual(key('-'), ['scale', { by: -1 }]);
  t.deepEqual(key('r'), ['reload', {}]);
  t.deepEqual(key('k'), ['recycle', { pid: 123 }]);
  // blessed names a shifted letter S-k; the typed character decides.
  t.deepEqual(key('K', 'S-k'), ['kill', { pid: 123 }]);
  t.deepEqual(key('q'), ['stop', { quick: false }]);
  t.deepEqual(keyBinding(undefined, 'C-c')?.args(ctx), { quick: true });
  t.is(keyBinding('x', 'x'), undefined);
  // A second q is a quick stop; k with no worker selected does nothing.
  t.deepEqual(keyBinding('q', 'q')?.args({ ...ctx, stopping: true }), { quick: true });
  t.is(keyBinding('k', 'k')?.args({ selected: null, stopping: false }), null);
});

test('a command encoded for the socket parses back to the same arguments', (t) => {
  const samples: Record<string, unknown[]> = {
    scale: [{ to: 3 }, { by: 1 }, { by: -2 }],
    stop: [{ quick: true }, { quick: false }],
    recycle: [{ pid: 42 }],
    kill: [{ pid: 42 }],
    reload: [{}],
    status: [{}],
    // Following is the client's: the socket's request is the same either way.
    logs: [{ follow: false }],
  };
  for (const [name, list] of Object.entries(samples)) {
    const c = COMMANDS.find((x) => x.name === name);
    if (!c) return t.fail(`no command ${name}`);
    for (const args of list) t.deepEqual(c.parse(c.encode(args)), args, name);
  }
});

/** A pool that records what it was asked and scales by checkScale at max-workers 64. */
function fakePool(): Pool & { calls: string[]; target: number } {
  const pool = {
    calls: [] as string[],
    target: 2,
    scale(req: { to: number } | { by: number }) {
      pool.calls.push(`scale ${formatScale(req)}`);
      const r = checkScale(pool.target, req, 64);
      if (r.ok) pool.target = r.to;
      return r;
    },
    reload: async () => ({ ok: true, message: 'reload done' }),
    stop: (opts?: { quick?: boolean }) => pool.calls.push(`stop ${opts?.quick === true}`),
    recycle: (pid: number, why?: string) => {
      pool.calls.push(`recycle ${pid} ${why}`);
      return pid === 7;
    },
    kill: (pid: number) => pid === 7,
    snapshot: () => ({ target: pool.target }),
  };
  return pool;
}

test('control requests: `scale 70` and `scale +70` at max 64 get the same words', async (t) => {
  const scale = COMMANDS.find((c) => c.name === 'scale');
  if (!scale) return t.fail();
  const pool = fakePool();
  pool.target = 0;
  const to = await runRequest(scale, pool, { cmd: 'scale', to: 70 });
  const plus = await runRequest(scale, pool, { cmd: 'scale', to: '+70' });
  const by = await runRequest(scale, pool, { cmd: 'scale', by: 70 });
  t.deepEqual(to, { ok: false, error: `scale: ${ABOVE(70, 64)}` });
  t.deepEqual(plus, to);
  t.deepEqual(by, to);
  t.deepEqual(await runRequest(scale, pool, { cmd: 'scale', to: '3' }), {
    ok: true,
    result: { from: 0, target: 3 },
  });
  t.deepEqual(await runRequest(scale, pool, { cmd: 'scale', to: 'lots' }), {
    ok: false,
    error: 'scale: expected "to" as N, "+N" or "-N", got "lots"',
  });
  t.deepEqual(await runRequest(scale, pool, { cmd: 'scale', by: '1' }), {
    ok: false,
    error: 'scale: expected "by" as a whole number like 1 or -2, got "1"',
  });
});

test('control requests: pid checks, the door named in a recycle, stop replies at once', async (t) => {
  const byName = (n: string) => COMMANDS.find((c) => c.name === n);
  const recycle = byName('recycle');
  const kill = byName('kill');
  const stop = byName('stop');
  if (!recycle || !kill || !stop) return t.fail();
  const pool = fakePool();
  t.deepEqual(await runRequest(kill, pool, { pid: -1 }), {
    ok: false,
    error: `kill: expected "pid" as a worker's pid, got -1`,
  });
  t.deepEqual(await runRequest(kill, pool, { pid: 8 }), {
    ok: false,
    error: 'kill: no live worker has pid 8',
  });
  t.deepEqual(await runRequest(recycle, pool, { pid: 7 }), { ok: true, result: { pid: 7 } });
  t.deepEqual(await runRequest(stop, pool, { quick: true }), {
    ok: true,
    result: { stopping: 'quick' },
  });
  t.deepEqual(pool.calls, ['recycle 7 asked over the control socket', 'stop true']);
});
