// --log-format json: the headless log as one JSON object per line, each a typed event with its
// details (or a worker's output line), for log shippers and for programs that follow gsup. Read
// raw here, as a log shipper reads it (the harness would parse the lines itself).

import { spawn } from 'node:child_process';
import test from 'ava';
import { BIN, dieWithTest, FIXTURES, get, tempDir, until } from './helpers.js';

interface Record {
  time: string;
  level: string;
  type: string;
  [key: string]: unknown;
}

test('--log-format json writes every event and output line as a typed JSON object', async (t) => {
  const args = ['start', 'chatty.js', '-w', '2', '-b', '127.0.0.1:0', '--log-format', 'json'];
  const [file, argv] = dieWithTest(process.execPath, [BIN, ...args]);
  const child = spawn(file, argv, {
    cwd: FIXTURES,
    env: { ...process.env, XDG_RUNTIME_DIR: tempDir(t, 'run') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let raw = '';
  child.stdout.on('data', (c: Buffer) => {
    raw += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const lines = () => raw.split('\n').filter((l) => l.length > 0);
  const records = () => lines().map((l) => JSON.parse(l) as Record);

  await until(
    'two workers ready',
    () => records().filter((r) => r.type === 'worker-ready').length === 2,
  );
  const url = String(records().find((r) => r.type === 'listening')?.url);
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  await get(`${url}/hello`);
  await until('the worker output arrived', () =>
    records().some((r) => r.type === 'output' && r.stream === 'stderr'),
  );
  child.kill('SIGTERM');
  t.is(await exited, 0);

  const all = records();
  for (const r of all) {
    t.false(Number.isNaN(Date.parse(r.time)), `a time on ${JSON.stringify(r)}`);
    t.true(['debug', 'info', 'warn', 'error'].includes(r.level));
  }
  const pidsOf = (type: string) =>
    all
      .filter((r) => r.type === type)
      .map((r) => Number(r.pid))
      .sort((a, b) => a - b);
  const spawned = pidsOf('worker-spawn');
  t.deepEqual(pidsOf('worker-ready'), spawned);
  t.true(all.every((r) => r.type !== 'worker-ready' || typeof r.bootMs === 'number'));
  const out = all.find((r) => r.type === 'output' && r.stream === 'stdout');
  t.like(out, { line: 'handling /hello' });
  t.true(spawned.includes(Number(out?.pid)));
  const exits = all.filter((r) => r.type === 'worker-exit');
  t.is(exits.length, 2);
  t.true(exits.every((r) => r.cause === 'drained' && r.code === 0));
  t.like(all.at(-1), { type: 'stopped', code: 0, message: 'stopped' });
});
