// Around `npm pack` / `npm publish`: the packed package.json leaves out `prepare`, a checkout's
// build step (`npm install` here builds dist/). A tarball already carries dist/, and npm warns on
// install about a dependency's lifecycle scripts that the installing project has not allowed.
// `strip` (prepack) renames it to `_prepare` in place; `restore` (postpack) names it back, so
// the file in the checkout ends as it began. (The same trick as pinst's, for postinstall.)

import { readFileSync, writeFileSync } from 'node:fs';

const FILE = new URL('../package.json', import.meta.url);
const [from, to] =
  process.argv[2] === 'restore' ? ['_prepare', 'prepare'] : ['prepare', '_prepare'];

const pkg = JSON.parse(readFileSync(FILE, 'utf8'));
if (pkg.scripts && from in pkg.scripts) {
  // Rebuilt key by key so the script keeps its place: the restored file is byte for byte the same.
  pkg.scripts = Object.fromEntries(
    Object.entries(pkg.scripts).map(([k, v]) => [k === from ? to : k, v]),
  );
  writeFileSync(FILE, `${JSON.stringify(pkg, null, 2)}\n`);
}
