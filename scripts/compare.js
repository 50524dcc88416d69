// `node scripts/compare.js`: gsup next to PM2 (cluster mode) and Gunicorn on the questions the
// README's comparison answers, each measured here rather than quoted:
//   throughput   gsup and PM2, two workers, wrk keep-alive and Connection: close (Gunicorn
//                serves Python, so its req/s would measure the language, not the supervisor)
//   reload       requests failed under keep-alive load during five reloads
//   broken       a reload after the app was replaced by one that throws at import: still serving?
//   hang         a worker spinning forever: replaced? stack shown? requests failing 10 s later?
//
// Needs wrk (apt-get install wrk), Gunicorn (apt-get install gunicorn) and PM2 (cd bench/pm2 &&
// npm install). Loopback only; every run is bounded in time. Prints a Markdown report.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wrkVersion } from '../bench/wrk.js';
import { freePort } from '../dist/demo/free-port.js';
import { writeApp } from './compare/apps.js';
import {
  describe,
  probe,
  reload,
  startServer,
  stop,
  stopAll,
  workerPids,
} from './compare/servers.js';

const USAGE = `Usage: node scripts/compare.js [--only throughput,reload,broken,hang] [--rounds N]

Measures gsup, PM2 (cluster mode) and Gunicorn on this machine and prints a Markdown report.
Needs wrk, gunicorn and bench/pm2 (cd bench/pm2 && npm install).`;

const SERVERS = ['gsup', 'pm2', 'gunicorn'];
const WRK_SECONDS = 5;

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const only = new Set((values.only ?? 'throughput,reload,broken,hang').split(','));
  const rounds = Number(values.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
    console.error(
      `compare: expected --rounds to be a whole number from 1 to 10, got ${JSON.stringify(values.rounds)}`,
    );
    return 2;
  }
  const wrk = wrkVersion();
  if (!wrk) {
    console.error('compare: wrk is not installed: apt-get install wrk');
    return 1;
  }
  console.log(`# gsup, PM2 and Gunicorn, measured ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.type()} ${os.release()}, node ${process.version}, ${wrk.split(' Copyright')[0]}, ${await version('gunicorn', ['--version'])}, PM2 ${await version('node', ['bench/pm2/node_modules/.bin/pm2', '--version'])}; load average ${os
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
async function throughput(rounds) {
  const rows = { gsup: { ka: [], close: [] }, pm2: { ka: [], close: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? ['pm2', 'gsup'] : ['gsup', 'pm2']) {
      await withServer(name, {}, async (server) => {
        await wrkRun(server.port, 1, []); // warm-up, not recorded
        rows[name].ka.push((await wrkRun(server.port, WRK_SECONDS, [])).rps);
        rows[name].close.push(
          (await wrkRun(server.port, WRK_SECONDS, ['-H', 'Connection: close'])).rps,
        );
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
async function reloads() {
  console.log('## Five reloads under keep-alive load (wrk -t1 -c10)\n');
  console.log(
    '| | requests | failed (socket errors + non-2xx) | what the tool said |\n|---|---|---|---|',
  );
  for (const name of SERVERS) {
    await withServer(name, {}, async (server) => {
      const load = wrkStart(server.port, 60, [], 10);
      let said = '';
      for (let i = 0; i < 5; i++) {
        await pause(1000); // a second of plain load between reloads
        said = await reload(server);
      }
      const result = await load.stop();
      console.log(
        `| ${label(name)} | ${fmt(result.requests)} | ${result.failed} | ${cell(said)} |`,
      );
    });
  }
  console.log('');
}

/** The app now throws at import; a reload is asked for. Does the server still answer? */
async function broken() {
  console.log('## A reload with code that throws at import\n');
  console.log('| | the reload said | 5 s later | still serving |\n|---|---|---|---|');
  for (const name of SERVERS) {
    await withServer(name, {}, async (server) => {
      writeApp(server.dir, name, true);
      const said = await reload(server);
      await pause(5000); // time for a failing boot to show
      const serving = await probe(server.port);
      const now = await describe(server);
      console.log(`| ${label(name)} | ${cell(said)} | ${cell(now)} | ${serving ? 'yes' : 'no'} |`);
    });
  }
  console.log('');
}

/** One request spins a worker forever; timeout 2 s where the tool has one. */
async function hangs() {
  console.log('## A worker stuck in a busy loop (timeout 2 s where the tool has one)\n');
  console.log(
    '| | stuck worker replaced within 10 s | stack of the stuck code in the log | of 20 new requests 10 s later, failed |\n|---|---|---|---|',
  );
  for (const name of SERVERS) {
    await withServer(name, { timeout: 2 }, async (server) => {
      const before = await workerPids(server);
      void probe(server.port, '/hang', 15_000);
      await pause(10_000); // five times the timeout
      const after = await workerPids(server);
      const replaced = before.some((pid) => !after.includes(pid));
      const stack = server.output.some((l) =>
        /spinForeverOnPurpose|spin_forever_on_purpose/.test(l),
      );
      let failed = 0;
      for (let i = 0; i < 20; i++) if (!(await probe(server.port, '/', 2000))) failed++;
      console.log(
        `| ${label(name)} | ${replaced ? 'yes' : 'no'} | ${stack ? 'yes' : 'no'} | ${failed} |`,
      );
    });
  }
  console.log('');
}

/** Runs `fn` with a fresh server on a free port in a scratch folder; always stops it. */
async function withServer(name, opts, fn) {
  const dir = mkdtempSync(join(os.tmpdir(), `gsup-compare-${name}-`));
  writeApp(dir, name);
  let server = null;
  try {
    server = await startServer(name, dir, await freePort(), opts);
    await fn(server);
  } finally {
    if (server) await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

function wrkRun(port, seconds, extra) {
  return wrkStart(port, seconds, extra, 50).done;
}

/** Starts wrk; `done` resolves when it ends by itself, `stop()` ends it early (SIGINT: wrk reports). */
function wrkStart(port, seconds, extra, connections) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, ...extra, `http://127.0.0.1:${port}/`];
  const child = spawn('wrk', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const done = new Promise((resolve) => {
    child.on('close', () => resolve(parseWrk(out)));
  });
  const stop = () => {
    child.kill('SIGINT');
    return done;
  };
  return { done, stop };
}

/** req/s, requests and failures from wrk's plain report. */
function parseWrk(out) {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socket = errors ? errors.slice(1).reduce((n, v) => n + Number(v), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requests, rps, failed: socket + non2xx };
}

/** A measurement waits out real time on purpose (this is a benchmark, not a test). */
function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function version(file, args) {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', () => resolve(`${file}: not installed`));
    child.on('close', () => resolve(out.trim().split('\n').pop() ?? ''));
  });
}

function cell(text) {
  return text.replace(/\|/g, '/').slice(0, 200);
}

function label(name) {
  return name === 'pm2' ? 'PM2 cluster' : name === 'gunicorn' ? 'Gunicorn (sync)' : 'gsup';
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopAll();
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`compare: ${err.stack ?? err}`);
    stopAll();
    process.exit(1);
  },
);
