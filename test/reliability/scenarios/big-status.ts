// `gsup status --json` with a snapshot larger than a pipe's buffer (64 KiB): its reader must get
// the whole JSON. Four workers each log ten 2,000-character warnings (gsup keeps that many),
// which puts about 80 kB of events into the snapshot.

import { execFile } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { get, ROOT, until } from '../../helpers.js';
import { startPool } from '../lib/pool.js';

export async function bigStatus(t: ExecutionContext): Promise<void> {
  const p = await startPool(t, 'warn-spam.js', 4);
  const warnings = () => p.countEvents('worker-warning', (e) => /^w{100}/.test(e.text));
  // Requests land on whichever worker accepts; keep asking until most of them have warned.
  await until('35 long warnings are logged', async () => {
    await get(`${p.base}/warn?kb=2&n=10`);
    return warnings() >= 35;
  });
  // Through a shell pipe, as `gsup status --json | jq` runs (node's own child stdio is a socket
  // pair, which hides the problem). The reader starts a second late, as a busy `jq` or `less`
  // may: this is the fault being modelled, not a wait for anything. A correct writer blocks
  // until it is read; a broken one exits with its output half written.
  const command = `'${process.execPath}' '${ROOT}bin/gsup.js' status --json | (sleep 1; cat)`;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      { env: { ...process.env, ...p.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
  t.is(r.code, 0, r.stderr);
  t.log(`gsup status --json | cat: ${r.stdout.length} bytes`);
  t.true(r.stdout.length >= 65_536, 'the snapshot is at least 64 KiB');
  let parsed: { events?: unknown[] } = {};
  t.notThrows(() => {
    parsed = JSON.parse(r.stdout) as { events?: unknown[] };
  }, `gsup status --json printed ${r.stdout.length} bytes of JSON that does not parse`);
  t.true((parsed.events?.length ?? 0) >= 35);
}
