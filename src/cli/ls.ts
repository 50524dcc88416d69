// `gsup ls`: the instances running for this user, one row each, from their own answers.

import { parseArgs } from 'node:util';
import { verbCommand } from '../commands.js';
import { controlDir } from '../control/paths.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { suggest } from '../suggest.js';
import { runningInstances } from './instances.js';

/** Runs `gsup ls [--json]`. */
export async function ls(argv: string[]): Promise<number> {
  const spec = verbCommand('ls')?.cli;
  if (!spec) return EXIT_USAGE;
  const flags = { ...spec.flags, help: { type: 'boolean' as const, doc: 'show this help' } };
  let json = false;
  try {
    const { values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { type: v.type }])),
      strict: true,
    });
    if (values.help) {
      process.stdout.write(
        `Usage: ${spec.usage}\n\n${spec.doc}\n(scans ${controlDir()}; an instance started with --control elsewhere is not listed)\n`,
      );
      return EXIT_OK;
    }
    json = values.json === true;
  } catch (err) {
    const opt = /'(--?[^']+)'/.exec((err as Error).message)?.[1] ?? '';
    const guess = suggest(opt.replace(/^-+/, ''), Object.keys(flags));
    process.stderr.write(
      `gsup: ls: ${opt ? `unknown option ${opt}${guess ? `; did you mean --${guess}?` : ''}` : (err as Error).message.split('\n')[0]} (usage: ${spec.usage})\n`,
    );
    return EXIT_USAGE;
  }
  const all = await runningInstances();
  if (json) {
    const rows = all.map(({ name, path, snapshot: s }) => ({
      name,
      pid: s.pid,
      app: s.app,
      state: s.state,
      ready: s.ready,
      wanted: s.target,
      uptimeMs: Math.round(s.uptimeMs),
      listening: s.listening,
      control: path,
    }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EXIT_OK;
  }
  if (all.length === 0) {
    process.stdout.write(`gsup: none running (no live control socket in ${controlDir()})\n`);
    return EXIT_OK;
  }
  const rows = [
    ['NAME', 'PID', 'APP', 'WORKERS', 'UPTIME', 'LISTENING', 'CONTROL'],
    ...all.map(({ name, path, snapshot: s }) => [
      name,
      String(s.pid),
      s.app,
      `${s.ready}/${s.target}${s.state === 'running' ? '' : ` ${s.state}`}`,
      uptime(s.uptimeMs),
      s.listening.join(' '),
      path,
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

/** `3d 4h`, `2h 5m`, `4m 10s`, `12s`. */
export function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
