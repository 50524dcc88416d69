// The docs work: every gsup command quoted in README.md and docs/ parses, the README's quick start
// runs, the settings and steering tables are the schema's and the command table's, the nginx
// config in docs/deploy.md proxies through reloads, and the screenshot script runs and draws what
// the README says it shows (four moments of the Node demo, one of a Django pool).
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort } from '../harness/ports.js';
import { tableInReadme as commandsInReadme, commandsTable } from '../scripts/commands-table.js';
import { docCommands } from '../scripts/doc-commands.js';
import {
  HOOKS_BEGIN,
  HOOKS_END,
  hooksTable,
  settingsTable,
  tableInReadme,
} from '../scripts/settings-table.js';
import { dieWithTest, gsup, gsupVerb, killQuietly, load, ROOT, tempDir, until } from './helpers.js';

const DOCS = ['README.md', 'docs/deploy.md', 'docs/design.md', 'docs/metrics.md'];
const BIN = join(ROOT, 'bin/gsup.js');

/** Runs a command in the repository to completion; its output is kept for the failure message. */
function run(
  file: string,
  args: string[],
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [f, a] = dieWithTest(file, args);
    const child = spawn(f, a, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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

/**
 * Each moment: what its screen must say (and must not), and one word its SVG must draw (one text
 * run per word).
 */
const MOMENTS: Record<string, { text: RegExp[]; absent?: RegExp[]; word: string }> = {
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
  // A second pool: `-k wsgi` workers serving a startproject, named as `gsup start` names it.
  django: {
    text: [
      /name default {2}http:\/\/127\.0\.0\.1:8000 {2}app mysite\.wsgi:application/,
      // The header says what the workers run, not the supervisor's Node version.
      /up 10s {2}-k wsgi/,
      /RUNNING {2}workers 2\/2 ready/,
      /timeout 30\.0s/,
      /^│\s+1\s+31401 ready/m,
      /^│\s+2\s+31402 ready/m,
      /all 2 workers ready/,
    ],
    // Not the demo's pool, and the project's temp folder never shows.
    absent: [/demo\.js/, /name demo/, /\/tmp\//, /^│\s+3\s+3140\d/m, /node v\d/],
    word: 'mysite.wsgi:application',
  },
};

/** The Django projects the screenshot script made and has not removed yet. */
function djangoShotDirs(): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith('gsup-shot-django-'));
}

test('npm run screenshots draws the five moments as SVG, PNG and text', async (t) => {
  const out = tempDir(t, 'shots');
  const before = djangoShotDirs();
  const r = await run(process.execPath, ['--import=tsx', 'scripts/screenshots.ts', '--out', out]);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.deepEqual(
    djangoShotDirs().filter((d) => !before.includes(d)),
    [],
    'the temp Django project is removed',
  );
  for (const [name, expected] of Object.entries(MOMENTS)) {
    const text = readFileSync(join(out, `${name}.txt`), 'utf8');
    for (const re of expected.text) t.regex(text, re, `${name}.txt`);
    for (const re of expected.absent ?? []) t.notRegex(text, re, `${name}.txt`);
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

test('the README settings table is the one generated from the schema', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = tableInReadme(readme);
  t.not(table, null, 'README.md has the settings markers');
  t.is(table, settingsTable(), 'regenerate it with: npm run docs:settings');
});

test('the README steering table is the one generated from the command table', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = commandsInReadme(readme);
  t.not(table, null, 'README.md has the commands markers');
  t.is(table, commandsTable(), 'regenerate it with: npm run docs:commands');
});

test('the README hooks table is the one generated from the schema', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = tableInReadme(readme, HOOKS_BEGIN, HOOKS_END);
  t.not(table, null, 'README.md has the hooks markers');
  t.is(table, hooksTable(), 'regenerate it with: npm run docs:settings');
  t.regex(table ?? '', /`onWorkerExit`/);
});

test('every gsup command quoted in the docs parses (run with --help)', async (t) => {
  const seen = new Set<string>();
  const commands = DOCS.flatMap((file) =>
    docCommands(readFileSync(join(ROOT, file), 'utf8')).map((c) => ({ ...c, file })),
  ).filter((c) => !seen.has(c.argv.join(' ')) && seen.add(c.argv.join(' ')));
  // Enough to be sure the extraction found the docs' commands, not nothing.
  t.true(commands.length >= 20, `found ${commands.length}: ${[...seen].join('; ')}`);
  const cwd = tempDir(t, 'docs');
  for (const c of commands) {
    const r = await run(process.execPath, [BIN, ...c.argv, '--help'], cwd);
    t.is(r.code, 0, `${c.file}: ${c.quoted}\n${r.stderr}`);
    t.is(r.stderr, '', `${c.file}: ${c.quoted}`);
  }
  const compare = await run(process.execPath, ['--import=tsx', 'bench/compare.ts', '--help']);
  t.is(compare.code, 0, compare.stderr);
});

test("the README's quick start runs: start, status, scale +1, reload, stop", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## The apps'));
  const [first, ...verbs] = docCommands(section).map((c) => c.argv);
  t.deepEqual(first?.slice(0, 2), ['start', 'app.js']);
  t.deepEqual(
    verbs.map((v) => v[0]),
    ['status', 'scale', 'reload', 'stop'],
  );
  // app.js is the bundled hello app; the port is a free one, not 8000.
  const dir = tempDir(t, 'quick');
  copyFileSync(join(ROOT, 'examples/hello.js'), join(dir, 'app.js'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  const argv = (first ?? []).map((a) => (a === '127.0.0.1:8000' ? '127.0.0.1:0' : a));
  // Text format: the quick start runs as documented, and a person reads its log.
  const g = gsup(t, argv, { cwd: dir, format: 'text' });
  await g.waitFor(/all 4 workers ready/);
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  for (const verb of verbs) {
    const r = await gsupVerb(verb, env);
    t.is(r.code, 0, `gsup ${verb.join(' ')}: ${r.stderr}`);
    if (verb[0] === 'status') t.regex(r.stdout, /workers 4\/4 ready/);
    if (verb[0] === 'scale') await g.waitFor(/scaling from 4 to 5 workers/);
    if (verb[0] === 'reload') t.regex(r.stdout, /reload done/);
  }
  t.is(await g.exited, 0);
});

test('the nginx config in docs/deploy.md proxies to gsup with no failure through three reloads', async (t) => {
  if (!hasNginx()) {
    // CI installs nginx (.ci/run), so there a missing nginx is a failure, not a skip.
    if (process.env.CI) t.fail('nginx is not installed: apt-get install nginx-light');
    else {
      t.log('skipped: nginx is not installed (apt-get install nginx-light)');
      t.pass();
    }
    return;
  }
  const deploy = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(deploy)?.[1];
  t.truthy(block, 'docs/deploy.md has an nginx block');
  const g = gsup(t, ['start', 'slow.js', '-w', '2', '-b', '127.0.0.1:0']);
  const upstream = new URL(await g.url()).port;
  const port = await freePort();
  t.regex(block ?? '', /server 127\.0\.0\.1:8000;/);
  t.regex(block ?? '', /listen 80;/);
  const dir = tempDir(t, 'nginx');
  const conf = join(dir, 'nginx.conf');
  // The documented block, inside the smallest nginx.conf that runs unprivileged in a scratch folder.
  writeFileSync(
    conf,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      'events {}',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (k) => `  ${k}_temp_path ${dir}/${k};`,
      ),
      (block ?? '')
        .replace('server 127.0.0.1:8000;', `server 127.0.0.1:${upstream};`)
        .replace('listen 80;', `listen 127.0.0.1:${port};`),
      '}',
    ].join('\n'),
  );
  const [file, args] = dieWithTest('nginx', ['-p', dir, '-c', conf]);
  const nginx = spawn(file, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErr = '';
  nginx.stderr?.on('data', (c: Buffer) => {
    nginxErr += c.toString();
  });
  t.teardown(() => {
    // The whole group: nginx's own worker would outlive a killed master.
    if (nginx.pid) killQuietly(-nginx.pid, 'SIGKILL');
  });
  const url = `http://127.0.0.1:${port}/`;
  await until(`nginx answers on ${url} (${nginxErr})`, async () => {
    try {
      const r = await fetch(url);
      return r.status === 200;
    } catch {
      return false;
    }
  });
  const traffic = load(url, 8);
  const env = { XDG_RUNTIME_DIR: g.runtimeDir };
  for (let i = 1; i <= 3; i++) {
    await until(`requests before reload ${i}`, () => traffic.ok() >= i * 200);
    const r = await gsupVerb(['reload'], env);
    t.is(r.code, 0, r.stderr);
  }
  const result = await traffic.stop();
  t.true(result.ok >= 600);
  t.deepEqual(
    result.errors.slice(0, 5),
    [],
    `${result.failed} of ${result.ok + result.failed} failed`,
  );
  t.is(result.failed, 0);
});

function hasNginx(): boolean {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
