// Packaging (issue 14, item 16): `npm pack` makes a tarball whose package.json carries no prepare
// script, and installing it in an empty folder gives a working `gsup` and no warning but npm's
// request to approve gsup's install script (it builds the native helper). Offline:
// the dependencies come from npm's cache, which `npm ci` filled; a cache without them skips the
// install half and says so.

import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ROOT, tempDir } from './helpers.js';

/** What `npm pack` reads, copied, so the checkout's own package.json is never rewritten here. */
/** What the tarball is made from: package.json's `files`, the manifest, the README and the pack script. */
const PACKED = [
  'package.json',
  'README.md',
  'scripts/pack-manifest.js',
  ...(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files,
];

function npm(args: string[], cwd: string) {
  return spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'warn' },
    timeout: 120_000,
  });
}

test("npm pack, then install the tarball in an empty folder: no warning but npm asking to approve gsup's native build, and gsup runs", (t) => {
  const src = tempDir(t, 'pack-src');
  for (const path of PACKED) cpSync(join(ROOT, path), join(src, path), { recursive: true });
  // dist/ is built already (npm test builds first): the copy's prepack skips the build.
  const manifest = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  const before = JSON.stringify(manifest.scripts);
  t.is(manifest.scripts.prepack, 'npm run build && node scripts/pack-manifest.js strip');
  manifest.scripts.prepack = 'node scripts/pack-manifest.js strip';
  writeFileSync(join(src, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const out = tempDir(t, 'pack-out');
  const pack = npm(['pack', '--pack-destination', out], src);
  t.is(pack.status, 0, pack.stderr);
  t.notRegex(pack.stderr, /npm warn/i, pack.stderr);
  const tarball = join(out, `gsup-${manifest.version}.tgz`);
  // The packed manifest has no prepare; the one in the folder has it back, as it was.
  const inside = spawnSync('tar', ['-xzOf', tarball, 'package/package.json'], {
    encoding: 'utf8',
  });
  const packed = JSON.parse(inside.stdout) as { scripts: Record<string, string> };
  t.false('prepare' in packed.scripts, 'prepare is in the packed package.json');
  const restored = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  t.is(restored.scripts.prepare, 'npm run build');
  t.false('_prepare' in restored.scripts);
  t.not(JSON.stringify(restored.scripts), before, 'only the prepack of the copy differs');

  const project = tempDir(t, 'pack-install');
  writeFileSync(join(project, 'package.json'), '{"name": "an-app", "private": true}\n');
  const install = npm(['install', '--offline', tarball], project);
  if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) {
    t.log(
      "npm's cache lacks gsup's dependencies (run npm ci first); the offline install was not tried",
    );
    return;
  }
  t.is(install.status, 0, install.stderr);
  // npm asks the installing project to approve a package's install script; gsup's builds its
  // small native helper (systemd notify, PID 1 reaping). That request, for gsup alone, is the one
  // warning allowed; gsup runs without the helper until it is approved and rebuilt.
  const warnings = install.stderr
    .split('\n')
    .filter((l) => /npm warn/i.test(l) && !/npm warn install-scripts/i.test(l));
  t.deepEqual(warnings, [], install.stderr);
  const scripts = install.stderr
    .split('\n')
    .filter((l) => /^\s*npm warn install-scripts\s+\S+@/.test(l));
  t.true(
    scripts.every((l) => /\bgsup@/.test(l)),
    install.stderr,
  );
  const bin = join(project, 'node_modules', '.bin', 'gsup');
  const version = spawnSync(bin, ['--version'], { cwd: project, encoding: 'utf8' });
  t.is(version.status, 0, version.stderr);
  t.is(version.stdout, `gsup ${manifest.version} (node ${process.version})\n`);
  // The installed copy loads an app, as gsup start would.
  const check = spawnSync(bin, ['check', 'node_modules/gsup/examples/hello.js', '--no-control'], {
    cwd: project,
    encoding: 'utf8',
  });
  t.is(check.status, 0, check.stderr);
  t.regex(check.stdout, /the app loads/);
});
