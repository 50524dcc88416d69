// `npm run bench:compare`: gsup next to PM2 (cluster mode) and Gunicorn on the questions the
// README's comparison answers, each measured here rather than quoted:
//   throughput   gsup and PM2, two workers, wrk keep-alive and Connection: close (Gunicorn
//                serves Python, so its req/s would measure the language, not the supervisor)
//   reload       requests failed under keep-alive load during five reloads
//   broken       a reload after the app was replaced by one that throws at import: still serving?
//   hang         a worker spinning forever: replaced? stack shown? requests failing 10 s later?
//
// Needs wrk (apt-get install wrk), Gunicorn (apt-get install gunicorn) and PM2 (cd bench/pm2 &&
// npm install). Loopback only; every run is bounded in time. Prints a Markdown report. The
// servers start through the same runner, wrappers, wrk and reloaders as the other benchmarks.

import { spawn } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { int, UsageError } from '../harness/args.js';
import { probe } from '../harness/http.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import { writeApp } from './compare/apps.js';
import { describe, showedStack, startCompared, workerPids } from './compare/servers.js';
import { options as readOptions, runMain } from './main.js';
import { hasPm2, PM2_INSTALL } from './pm2.js';
import { killAll, type Server, stopServer } from './process.js';
import { RELOADERS } from './reloaders.js';
import { median } from './stats.js';
import {
  killWrk,
  type Mode,
  runWrk,
  startWrk,
  WRK_INSTALL,
  wrkCommand,
  wrkVersion,
} from './wrk.js';

const USAGE = `Usage: npm run bench:compare -- [--only throughput,reload,broken,hang] [--rounds N]

Measures gsup, PM2 (cluster mode) and Gunicorn on this machine and prints a Markdown report.
Needs wrk, gunicorn and bench/pm2 (cd bench/pm2 && npm install).`;

const SERVERS = ['gsup', 'pm2', 'gunicorn'];
const PARTS = ['throughput', 'reload', 'broken', 'hang'];
const WRK_SECONDS = 5;

interface CompareOptions {
  help: boolean;
  only: Set<string>;
  rounds: number;
}

/** Options of `npm run bench:compare`. */
function parseCompareOptions(argv: string[]): CompareOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: PARTS.join(',') },
      rounds: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const only = values.only.split(',');
  const unknown = only.filter((p) => !PARTS.includes(p));
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.join(', ')}`);
  const rounds = int('--rounds', values.rounds, 1);
  if (rounds > 10) throw new UsageError(`--rounds: expected at most 10, got ${rounds}`);
  return { help: values.help, only: new Set(only), rounds };
}

async function main(argv: string[]): Promise<number> {
  const read = readOptions('bench:compare', argv, parseCompareOptions, USAGE);
  if ('code' in read) return read.code;
  const { only, rounds } = read.options;
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(`bench:compare: ${WRK_INSTALL}`);
    return 1;
  }
  if (!hasPm2()) {
    console.error(`bench:compare: ${PM2_INSTALL}`);
    return 1;
  }
  if ((await version('gunicorn', ['--version'])).endsWith('not installed')) {
    console.error('bench:compare: gunicorn is not installed: apt-get install gunicorn');
    return 1;
  }
  console.log(`# gsup, PM2 and Gunicorn, measured ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.type()} ${os.release()}, node ${process.version}, ${wrk.split(' Copyright')[0]}, ${await version('gunicorn', ['--version'])}, PM2 ${await version(process.execPath, [new URL('./pm2/node_modules/pm2/bin/pm2', import.meta.url).pathname, '--version'])}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the start.\n`,
  );
  if (only.has('throughput')) await throughput(rounds);
  if (only.has('reload')) await reloads();
  if (only.has('broken')) await broken();
  if (only.has('hang')) await hangs();
  return 0;
}

/** gsup and PM2 take turns, `rounds` times; the medians are reported. */
async function throughput(rounds: number): Promise<void> {
  const rows: Record<string, { ka: number[]; close: number[] }> = {
    gsup: { ka: [], close: [] },
    pm2: { ka: [], close: [] },
  };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? ['pm2', 'gsup'] : ['gsup', 'pm2']) {
      const row = rows[name];
      if (!row) continue;
      await withServer(name, {}, async (server) => {
        await wrkRun(server.port, 1, 'keep-alive'); // warm-up, not recorded
        row.ka.push((await wrkRun(server.port, WRK_SECONDS, 'keep-alive')).rps);
        row.close.push((await wrkRun(server.port, WRK_SECONDS, 'close')).rps);
      });
    }
  }
  console.log(
    `## Throughput: hello app, 2 workers, wrk -t1 -c50 -d${WRK_SECONDS}s, median of ${rounds}\n`,
  );
  console.log('| | keep-alive req/s | Connection: close req/s |\n|---|---|---|');
  for (const [name, r] of Object.entries(rows)) {
    console.log(
      `| ${name === 'pm2' ? 'PM2 cluster' : name} | ${fmt(median(r.ka))} | ${fmt(median(r.close))} |`,
    );
  }
  console.log('');
}

/** Five reloads, one after the other, under keep-alive load: how many requests failed. */
async function reloads(): Promise<void> {
  console.log('## Five reloads under keep-alive load (wrk -t1 -c10)\n');
  console.log(
    '| | requests | failed (socket errors + non-2xx) | what the tool said |\n|---|---|---|---|',
  );
  for (const name of SERVERS) {
    await withServer(name, {}, async (server) => {
      const load = startWrk(
        wrkCommand({
          threads: 1,
          connections: 10,
          duration: 60,
          mode: 'keep-alive',
          port: server.port,
        }),
      );
      let said = '';
      for (let i = 0; i < 5; i++) {
        await sleep(1000); // a second of plain load between reloads
        said = (await reload(server)).said;
      }
      const result = await load.stop();
      const failed = result.socketErrors + result.non2xx;
      console.log(`| ${label(name)} | ${fmt(result.requests)} | ${failed} | ${cell(said)} |`);
    });
  }
  console.log('');
}

/** The app now throws at import; a reload is asked for. Does the server still answer? */
async function broken(): Promise<void> {
  console.log('## A reload with code that throws at import\n');
  console.log('| | the reload said | 5 s later | still serving |\n|---|---|---|---|');
  for (const name of SERVERS) {
    await withServer(name, {}, async (server, dir) => {
      writeApp(dir, name, true);
      const { said } = await reload(server);
      await sleep(5000); // time for a failing boot to show
      const serving = await probe(server.port);
      const now = describe(server);
      console.log(`| ${label(name)} | ${cell(said)} | ${cell(now)} | ${serving ? 'yes' : 'no'} |`);
    });
  }
  console.log('');
}

/** One request spins a worker forever; timeout 2 s where the tool has one. */
async function hangs(): Promise<void> {
  console.log('## A worker stuck in a busy loop (timeout 2 s where the tool has one)\n');
  console.log(
    '| | stuck worker replaced within 10 s | stack of the stuck code in the log | of 20 new requests 10 s later, failed |\n|---|---|---|---|',
  );
  for (const name of SERVERS) {
    await withServer(name, { timeout: 2 }, async (server) => {
      const before = workerPids(server);
      void probe(server.port, '/hang', 15_000);
      await sleep(10_000); // five times the timeout
      const after = workerPids(server);
      const replaced = before.some((pid) => !after.includes(pid));
      const stack = showedStack(server);
      let failed = 0;
      for (let i = 0; i < 20; i++) if (!(await probe(server.port, '/', 2000))) failed++;
      console.log(
        `| ${label(name)} | ${replaced ? 'yes' : 'no'} | ${stack ? 'yes' : 'no'} | ${failed} |`,
      );
    });
  }
  console.log('');
}

/** Reloads as each tool's docs say; a reload that never ends is reported, not waited on forever. */
async function reload(server: Server): Promise<{ ok: boolean; said: string }> {
  const reloader = RELOADERS[server.name];
  if (!reloader) throw new Error(`no reloader for ${server.name}`);
  try {
    return await reloader.reload(server, 2);
  } catch (err) {
    return { ok: false, said: (err as Error).message };
  }
}

/** Runs `fn` with a fresh server on a free port in a scratch folder; always stops it. */
async function withServer(
  name: string,
  opts: { timeout?: number },
  fn: (server: Server, dir: string) => Promise<void>,
): Promise<void> {
  const dir = makeTempDir(`compare-${name}`);
  writeApp(dir, name);
  let server: Server | null = null;
  try {
    server = await startCompared(name, dir, await freePort(), opts);
    await fn(server, dir);
  } finally {
    if (server) await stopServer(server);
    removeDir(dir);
  }
}

function wrkRun(port: number, seconds: number, mode: Mode) {
  return runWrk(
    wrkCommand({ threads: 1, connections: 50, duration: seconds, mode, port }),
    seconds,
  );
}

function version(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', () => resolve(`${file}: not installed`));
    child.on('close', () => resolve(out.trim().split('\n').pop() ?? ''));
  });
}

function cell(text: string): string {
  return text.replace(/\|/g, '/').slice(0, 200);
}

function label(name: string): string {
  return name === 'pm2' ? 'PM2 cluster' : name === 'gunicorn' ? 'Gunicorn (sync)' : 'gsup';
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

runMain('bench:compare', main, () => {
  killWrk();
  killAll();
});
