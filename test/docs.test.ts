// The docs work: the screenshot script runs and draws what the README says it shows.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { dieWithTest, ROOT } from './helpers.js';

/** Runs a command in the repository to completion; its output is kept for the failure message. */
function run(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [f, a] = dieWithTest(file, args);
    const child = spawn(f, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Each moment: what its screen must say, and one word its SVG must draw (one text run per word). */
const MOMENTS: Record<string, { text: RegExp[]; word: string }> = {
  dashboard: {
    text: [/RUNNING {2}workers 3\/3 ready/, /SLOT\s+PID\s+STATE/, /total req\/s/],
    word: 'RUNNING',
  },
  'scale-up': {
    text: [/key \+: one worker more/, /^│\s+4\s+31404 booting/m],
    word: 'booting',
  },
  reload: {
    text: [/RELOADING 1 new ready \/ 0 of 4 old drained/, /replacing/, /first new worker/],
    word: 'RELOADING',
  },
  timeout: {
    text: [/WORKER TIMEOUT/, /killed after timeout/, /at spinForeverOnPurpose/],
    word: 'spinForeverOnPurpose',
  },
};

test('npm run screenshots draws the four moments as SVG, PNG and text', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'gsup-shots-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = await run(process.execPath, ['--import=tsx', 'scripts/screenshots.ts', '--out', out]);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  for (const [name, expected] of Object.entries(MOMENTS)) {
    const text = readFileSync(join(out, `${name}.txt`), 'utf8');
    for (const re of expected.text) t.regex(text, re, `${name}.txt`);
    const svg = readFileSync(join(out, `${name}.svg`), 'utf8');
    t.regex(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    t.true(svg.includes(`>${expected.word}</text>`), `${name}.svg draws ${expected.word}`);
    // resvg is a devDependency with a build for this platform: the PNGs must be there.
    const png = readFileSync(join(out, `${name}.png`));
    t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], `${name}.png is a PNG`);
    // A fresh run that differs from the committed one means the dashboard changed: say so,
    // but do not fail (fonts and Node versions differ between machines).
    const committed = join(ROOT, 'screenshots', `${name}.txt`);
    if (existsSync(committed) && readFileSync(committed, 'utf8') !== text) {
      t.log(`screenshots/${name}.txt differs from a fresh run: run npm run screenshots`);
    }
  }
});
