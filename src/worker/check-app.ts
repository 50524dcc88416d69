// Runs in the child process `gsup check` starts: loads the app exactly as a worker would (the
// same spec, loader and error text) but never listens: every listen() the app makes is recorded
// and not performed. Reports one result over IPC and exits.

import { parseAppSpec } from '../app-spec.js';
import { oneLine } from '../error-text.js';
import { AppLoadError, loadApp } from './load-app.js';
import { type AppListen, appListens, ownListenHint, watchAppListens } from './own-listen.js';

/** What the check child reports. */
export type CheckResult =
  | { ok: true; kind: 'server' | 'listener'; listens: AppListen[] }
  | { ok: false; message: string; where: string | null; listens: AppListen[] };

function report(result: CheckResult): void {
  if (!process.send) process.exit(2);
  process.send(result, undefined, {}, () => process.exit(0));
}

async function main(): Promise<void> {
  const app = process.env.GSUP_CHECK_APP ?? '';
  delete process.env.GSUP_CHECK_APP;
  const cwd = process.cwd();
  watchAppListens(cwd, () => undefined, true);
  const spec = parseAppSpec(app);
  try {
    if (typeof spec === 'string') throw new AppLoadError(spec);
    const loaded = await loadApp(spec, cwd);
    report({ ok: true, kind: loaded.kind, listens: [...appListens()] });
  } catch (err) {
    const e = err instanceof AppLoadError ? err : new AppLoadError(oneLine(err));
    const message = e.message + (e.noApp ? ownListenHint() : '');
    report({ ok: false, message, where: e.where, listens: [...appListens()] });
  }
}

main().catch((err) =>
  report({ ok: false, message: `gsup check failed: ${oneLine(err)}`, where: null, listens: [] }),
);
