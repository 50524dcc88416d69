// `npm run screenshots`: runs the real supervisor on examples/demo.js with the real dashboard in a
// headless terminal, drives one scenario (steady load, a scale-up, a reload in progress, a hung
// worker killed with its stack) and writes each moment as SVG, PNG and plain text.
//
//   node --import=tsx scripts/screenshots.ts [--out DIR]     (default: screenshots/)
//
// What is pinned so the images only change when the dashboard does: see scripts/screenshots/pinned.ts.

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DemoLoad } from '../dist/demo/load.js';
import { advance, pinClock } from './screenshots/clock.js';
import { pngUnavailable } from './screenshots/png.js';
import { makeRig, type Rig } from './screenshots/rig.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Seconds a hung worker may stay silent: short, so the script is quick. */
const TIMEOUT_S = 2;
/** The slot whose worker the script hangs, so the same row is killed in every run. */
const HUNG_SLOT = 2;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
  const out = resolve(values.out ?? resolve(ROOT, 'screenshots'));
  mkdirSync(out, { recursive: true });
  pinClock();

  const env = { ...process.env };
  delete env.GSUP_DEMO_URL; // its hint line races the ready events; the pictures leave it out
  const rig = await makeRig({
    root: ROOT,
    out,
    app: 'examples/demo.js',
    workers: 3,
    timeout: TIMEOUT_S,
    env,
  });
  // Real traffic, so the reload drains real connections; the figures shown are pinned anyway.
  const load = new DemoLoad(rig.sup.urls[0] ?? '', 10);
  const written: string[] = [];
  try {
    load.start();
    written.push(...(await scenario(rig)));
  } finally {
    await load.stop();
    await rig.close();
  }
  for (const f of written) console.log(`wrote ${f}`);
  const why = await pngUnavailable();
  if (why) console.log(`no PNGs: ${why}`);
  return 0;
}

async function scenario(rig: Rig): Promise<string[]> {
  const files: string[] = [];
  await rig.waitForEvent('pool-ready', (e) => e.workers === 3);
  await rig.settle();
  await steady(rig, 10);
  files.push(...(await rig.capture('dashboard', 'gsup demo: steady load on 3 workers')));

  // A scale-up from the keyboard, caught while the new worker boots.
  let frozen = rig.view.freezeAt((_s, e) => e.type === 'worker-spawn');
  rig.term.press('+');
  await frozen;
  files.push(...(await rig.capture('scale-up', 'gsup demo: + adds a worker')));
  rig.view.unfreeze();
  await rig.until('4 ready workers', (s) => s.ready === 4 && s.live === 4);
  await rig.settle();
  await steady(rig, 4);

  // A reload, caught when the first new worker is ready and the old ones start to go.
  frozen = rig.view.freezeAt((_s, e) => e.type === 'reload-canary-ready');
  rig.term.press('r');
  await frozen;
  files.push(...(await rig.capture('reload', 'gsup demo: r, a rolling reload in progress')));
  rig.view.unfreeze();
  await rig.waitForEvent('reload-end', (e) => e.outcome === 'done');
  await rig.until(
    'the old workers gone',
    (s) => s.workers.length === 4 && s.workers.every((w) => w.state === 'ready' && !w.replacing),
  );
  await rig.settle();
  await steady(rig, 4);

  // A hung worker: killed after the timeout, with the stack it was stuck in.
  let killed = false;
  frozen = rig.view.freezeAt((_s, e) => {
    if (e.type === 'worker-exit' && e.cause === 'timeout') killed = true;
    return killed && e.type === 'worker-spawn';
  });
  await hang(rig, HUNG_SLOT);
  advance(TIMEOUT_S);
  await frozen;
  files.push(...(await rig.capture('timeout', 'gsup demo: a hung worker killed, with its stack')));
  rig.view.unfreeze();
  return files;
}

/** `seconds` of steady traffic on the pinned clock, one dashboard refresh per second. */
async function steady(rig: Rig, seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    advance(1);
    rig.view.serve(1);
    await rig.settle();
  }
}

/** Sends /hang?slot=N on fresh connections until the worker in that slot takes one and spins. */
async function hang(rig: Rig, slot: number): Promise<void> {
  const url = `${rig.sup.urls[0]}/hang?slot=${slot}`;
  // The chosen worker never answers; its spin shows as its log line instead.
  const spinning = rig.waitForOutput(/spinning on purpose/).then(() => 'hung' as const);
  for (let attempt = 1; attempt <= 200; attempt++) {
    const status = await new Promise<number | 'hung'>((resolve, reject) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // Its connection is reset when the timeout kills it.
      req.on('error', () => undefined);
      spinning.then(resolve, reject);
    });
    if (status === 'hung') return;
    if (status !== 409) throw new Error(`GET ${url} answered ${status}, expected 409 or no answer`);
  }
  throw new Error(`no connection reached the worker in slot ${slot} in 200 attempts`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`screenshots: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
