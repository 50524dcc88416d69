// gsup as PID 1, as in a container without an init: in a new PID namespace (unshare --pid --fork
// --mount-proc), an app whose workers leave orphaned grandchildren behind. gsup reaps every
// orphan (no zombie stays), never takes an orphan's exit for a worker's (Gunicorn #3220: an
// orphan exiting with code 3 is not a boot error), still gets its own workers' exits, and TERM
// and INT (which PID 1 only receives when it handles them) still stop it. Needs root.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { readLine } from '../harness/log.js';
import { childPids } from '../harness/procfs.js';
import {
  BIN,
  DEADLINE_MS,
  dieWithTest,
  FIXTURES,
  get,
  isAlive,
  killQuietly,
  type PoolEvent,
  tempDir,
  until,
} from './helpers.js';

function canUnshare(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const nsTest = canUnshare() ? test : test.skip;

/** The pid a process has in its own (innermost) PID namespace, from the outside. */
function innerPid(outer: number): number | null {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${outer}/status`, 'utf8'));
    return m?.[1] ? Number(m[1].trim().split(/\s+/).at(-1)) : null;
  } catch {
    return null;
  }
}

function state(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] ?? null;
  } catch {
    return null;
  }
}

interface InitGsup {
  unshare: ChildProcess;
  /** gsup's pid as seen from here (it is 1 inside). */
  outer: number;
  events: PoolEvent[];
  exited: Promise<number | null>;
  /** Resolves with the first event of the type (from index `from`) that satisfies `ok`. */
  event(type: string, ok?: (e: PoolEvent) => boolean, from?: number): Promise<PoolEvent>;
}

/** Starts gsup as PID 1 of a new PID namespace; it dies with the test (--kill-child). */
async function startAsInit(t: import('ava').ExecutionContext, app: string): Promise<InitGsup> {
  const run = tempDir(t, 'pid1');
  const [file, args] = dieWithTest('unshare', [
    '--pid',
    '--fork',
    '--mount-proc',
    '--kill-child',
    process.execPath,
    BIN,
    'start',
    '--log-format',
    'json',
    app,
    '-w',
    '2',
    '-b',
    '127.0.0.1:0',
    '--no-tui',
  ]);
  const unshare = spawn(file, args, {
    cwd: FIXTURES,
    env: { ...process.env, XDG_RUNTIME_DIR: run },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => killQuietly(unshare.pid ?? -1, 'SIGKILL'));
  const events: PoolEvent[] = [];
  let log = '';
  let rest = '';
  unshare.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      log += `${l}\n`;
      const line = readLine(l);
      if (line.kind === 'event') events.push(line.event);
    }
  });
  unshare.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => unshare.once('exit', resolve));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const event = async (type: string, ok: (e: PoolEvent) => boolean = () => true, from = 0) => {
    let found: PoolEvent | undefined;
    await until(`a ${type} event; gsup printed:\n${log}`, () => {
      found = events.slice(from).find((e) => e.type === type && ok(e));
      if (!found && done) throw new Error(`gsup exited first; it printed:\n${log}`);
      return found !== undefined;
    });
    return found as PoolEvent;
  };
  await event('pool-ready');
  const outer = childPids(unshare.pid ?? -1)[0] ?? -1;
  t.is(innerPid(outer), 1, 'gsup is PID 1 in its namespace');
  return { unshare, outer, events, exited, event };
}

nsTest(
  'as PID 1, gsup reaps orphaned grandchildren, keeps its workers, and exits 0 on TERM leaving nothing',
  async (t) => {
    const g = await startAsInit(t, 'leaves-orphan-grandchild.js');
    const listening = (await g.event('listening')) as Extract<PoolEvent, { type: 'listening' }>;
    const url = listening.url;
    const ask = async (path: string) =>
      (JSON.parse((await get(`${url}${path}`)).body) as { orphan: number }).orphan;

    const lingering = await ask('/linger');
    const orphans: number[] = [];
    for (let i = 0; i < 20; i++) orphans.push(await ask('/'));

    const children = () =>
      childPids(g.outer).map((pid) => ({ pid, inner: innerPid(pid), state: state(pid) }));
    // Each orphan was reparented to gsup and exits with code 3; gsup must reap every one.
    await until(
      'every exited orphan is reaped (no zombie child of gsup)',
      () => {
        const now = children();
        return (
          now.every((c) => c.state !== 'Z') && !now.some((c) => orphans.includes(c.inner ?? -1))
        );
      },
      DEADLINE_MS,
    );
    const linger = children().find((c) => c.inner === lingering);
    t.truthy(
      linger,
      'the lingering orphan is a child of gsup: orphans really were reparented to it',
    );
    t.is(
      g.events.filter((e) => e.type === 'worker-exit' || e.type === 'worker-boot-failed').length,
      0,
    );

    // gsup still gets its own workers' exits: libuv's statuses were not taken.
    const spawns = g.events.filter((e) => e.type === 'worker-spawn').map((e) => e.pid as number);
    const victim = children().find((c) => spawns.includes(c.inner ?? -1));
    t.truthy(victim);
    const from = g.events.length;
    killQuietly(victim?.pid ?? -1, 'SIGKILL');
    const exit = await g.event('worker-exit', (e) => e.pid === victim?.inner, from);
    t.like(exit, { cause: 'crashed', signal: 'SIGKILL' });
    await g.event('worker-ready', () => true, from);

    killQuietly(g.outer, 'SIGTERM');
    t.is(await g.exited, 0);
    t.like(g.events.at(-1), { type: 'stopped', code: 0 });
    // The namespace ended with its PID 1: the lingering orphan and every worker are gone.
    await until('nothing of the namespace is left', () =>
      [linger?.pid ?? -1, g.outer].every((pid) => !isAlive(pid)),
    );
  },
);

nsTest(
  'as PID 1, SIGINT still reaches gsup (PID 1 gets only the signals it handles): quick stop, exit 0',
  async (t) => {
    const g = await startAsInit(t, 'slow.js');
    killQuietly(g.outer, 'SIGINT');
    await g.event('stop-begin', (e) => (e as Extract<PoolEvent, { type: 'stop-begin' }>).quick);
    t.is(await g.exited, 0);
  },
);
