// Temporary folders that go away: every one a test or a benchmark makes is named `gsup-*` and
// removed when its owner is done, so a run leaves nothing in /tmp.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/** A fresh folder `/tmp/gsup-NAME-XXXXXX`; the caller removes it with `removeDir`. */
export function makeTempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `gsup-${name}-`));
}

/** Removes a folder and all in it; a folder already gone is fine. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh folder `/tmp/gsup-NAME-XXXXXX`, removed at the test's teardown. */
export function tempDir(t: ExecutionContext, name: string): string {
  const dir = makeTempDir(name);
  t.teardown(() => removeDir(dir));
  return dir;
}
