// A real Prometheus (Debian's `prometheus` package) scraping gsup's --metrics endpoint, for tests:
// its own temp folder for config and data, a free port, queries through its HTTP API, and a
// teardown that kills it and removes the folder. Also a reader of the text format, to compare scrapes.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { dieWithTest } from './gsup.js';
import { get } from './http.js';
import { freePort } from './ports.js';
import { makeTempDir, removeDir } from './tmp.js';
import { pollUntil } from './wait.js';

export interface Prometheus {
  url: string;
  /** The value of an instant query that returns one sample, or null while it returns none. */
  query(promql: string): Promise<number | null>;
  /** What Prometheus printed, for failure messages. */
  log(): string;
}

/** True when Debian's prometheus and promtool are on this machine. */
export function hasPrometheus(): boolean {
  return ['prometheus', 'promtool'].every(
    (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0,
  );
}

/**
 * Starts Prometheus scraping `target` (host:port) every second and resolves after its first good
 * scrape; killed and cleaned up at teardown.
 */
export async function startPrometheus(t: ExecutionContext, target: string): Promise<Prometheus> {
  const dir = makeTempDir('prom');
  const port = await freePort();
  const config = join(dir, 'prom.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: gsup',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const [file, args] = dieWithTest('prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const child: ChildProcess = spawn(file, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await closed;
    removeDir(dir);
  });
  const url = `http://127.0.0.1:${port}`;
  await pollUntil(
    'Prometheus is ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
      try {
        return (await get(`${url}/-/ready`, undefined, 2000)).status === 200;
      } catch {
        return false;
      }
    },
    { deadlineMs: 60_000, intervalMs: 200 },
  );
  const query = async (promql: string): Promise<number | null> => {
    const r = await get(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = JSON.parse(r.body) as {
      status: string;
      error?: string;
      data?: { result: Array<{ value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${promql} failed: ${body.error}`);
    const sample = body.data?.result[0];
    return sample ? Number(sample.value[1]) : null;
  };
  // A first scrape before the caller acts: rate() needs a sample from before the change.
  await pollUntil(
    `Prometheus scraped ${target}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
      return (await query('up{job="gsup"}')) === 1;
    },
    { deadlineMs: 60_000, intervalMs: 200 },
  );
  return { url, log: () => output, query };
}

/** The samples of a scrape in Prometheus' text format: `name{labels}` to value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
