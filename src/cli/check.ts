// `gsup check`: resolves the configuration from every source, prints each setting's effective
// value and where it came from, loads the app in a child process that never listens (as
// Gunicorn's --check-config does), and exits 0 only if gsup start would boot it.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkAppFor } from '../app-spec.js';
import { resolveStart } from '../config/load.js';
import { ConfigError, type Source } from '../config/parse.js';
import { type AnySetting, RELOAD_KINDS, SETTINGS } from '../config/schema.js';
import { controlPath } from '../control/paths.js';
import { EXIT_BOOT_ERROR, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { CheckResult } from '../worker/check-app.js';
import { supervisorOptions } from './options.js';

/** The child that loads the app without listening (src/worker/check-app.ts). */
const CHECK_APP = fileURLToPath(new URL('../worker/check-app.js', import.meta.url));

const SOURCE_LABEL: Record<Source, string> = {
  default: 'default',
  env: 'environment',
  file: 'file',
  cmdargs: 'GSUP_CMD_ARGS',
  cli: 'command line',
};

/** `gsup check [APP] [options]`: prints the resolved settings; 0 if gsup start would accept them. */
export async function check(argv: string[]): Promise<number> {
  const fail = (message: string) => {
    process.stderr.write(`gsup: ${message}\n`);
    return EXIT_USAGE;
  };
  try {
    const r = await resolveStart(argv, process.env, process.cwd());
    if (r.help) {
      process.stdout.write(
        'Usage: gsup check [APP] [options of gsup start]\n\nValidates the configuration and prints every setting with its source.\n',
      );
      return EXIT_OK;
    }
    const rows: Array<[string, string, string]> = [];
    rows.push(['app', r.app ?? '(none)', r.appSource ? SOURCE_LABEL[r.appSource] : '-']);
    for (const s of SETTINGS) {
      // A `--no-X` switch reads as its flag: `no-tui false` is the dashboard on.
      const raw = r.config[s.key];
      const value = s.type === 'flag' && s.flag.startsWith('no-') ? !raw : raw;
      const shown =
        s.key === 'umask' && typeof value === 'number'
          ? `0${value.toString(8).padStart(3, '0')}`
          : Array.isArray(value)
            ? value.join(' ') || '(none)'
            : value === null
              ? s.key === 'control'
                ? controlShown(r.config)
                : '(none)'
              : String(value);
      rows.push([shownName(s), shown, SOURCE_LABEL[r.sources[s.key]]]);
    }
    const hooks = Object.keys(r.hooks);
    const width = Math.max(...rows.map((x) => x[0].length));
    const valueWidth = Math.min(50, Math.max(...rows.map((x) => x[1].length)));
    const lines = rows.map(
      ([k, v, src]) => `${k.padEnd(width)}  ${v.padEnd(valueWidth)}  (${src})`,
    );
    lines.push(`${'hooks'.padEnd(width)}  ${hooks.length ? hooks.join(', ') : '(none)'}`);
    lines.push('', ...reloadLines());
    if (!r.app)
      return fail('check: no app: give one (gsup check app.js) or set app in the config file');
    const wrong = checkAppFor(r.config, r.app, r.config.chdir ?? process.cwd());
    if (wrong) return fail(wrong);
    const options = supervisorOptions(r, r.app, process.env, process.cwd());
    if (typeof options === 'string') return fail(options);
    if (r.config.workerClass !== 'node') {
      // Only a node app is loaded here; a wsgi or exec app was checked for its form and program.
      process.stdout.write(
        `${lines.join('\n')}\n\ngsup: the configuration is valid${r.file ? ` (config file ${r.file})` : ''}; a ${r.config.workerClass} app is not started by check, only its form and program are checked\n`,
      );
      return EXIT_OK;
    }
    const loaded = await loadInChild(r.app, r.config.chdir ?? process.cwd(), options.env, {
      nodeArgs: r.config.nodeArg,
      timeoutS: r.config.bootTimeout,
    });
    if (!loaded.ok) {
      process.stderr.write(
        `gsup: check: the app does not load: ${loaded.message}${loaded.where ? ` (at ${loaded.where})` : ''}\n`,
      );
      return EXIT_BOOT_ERROR;
    }
    for (const l of loaded.listens) {
      process.stderr.write(
        `gsup: warning: the app calls listen() itself (${l.address}${l.where ? `, at ${l.where}` : ''}); remove that call and export the app: gsup listens on --bind for every worker\n`,
      );
    }
    const what = loaded.kind === 'server' ? 'a server' : 'a request listener';
    process.stdout.write(
      `${lines.join('\n')}\n\ngsup: the configuration is valid${r.file ? ` (config file ${r.file})` : ''} and the app loads (${what})\n`,
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
}

/** Where the control socket will be, or why there is none. */
function controlShown(config: { name: string; control: string | null; controlEnabled: boolean }) {
  return config.controlEnabled ? controlPath(config.name, config.control) : '(off: --no-control)';
}

/** The app loaded in a child process that never listens; its own one-line error if it fails. */
function loadInChild(
  app: string,
  cwd: string,
  env: Record<string, string | undefined>,
  opts: { nodeArgs: string[]; timeoutS: number },
): Promise<CheckResult | { ok: false; message: string; where: null; listens: [] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...opts.nodeArgs, CHECK_APP], {
      cwd,
      env: { ...env, GSUP_CHECK_APP: app },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let result: CheckResult | null = null;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096);
    });
    const failed = (message: string) => resolve({ ok: false, message, where: null, listens: [] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      failed(`it did not finish loading within boot-timeout ${opts.timeoutS}s`);
    }, opts.timeoutS * 1000);
    child.on('message', (m) => {
      result = m as CheckResult;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      failed(`cannot start node to load it: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) return resolve(result);
      const last = stderr.trim().split('\n').filter(Boolean).at(-1);
      failed(
        `it exited (${signal ? `signal ${signal}` : `code ${code}`}) while loading${last ? `: ${last.trim()}` : ''}`,
      );
    });
  });
}

/** How a reload applies each setting: one line per reload kind, naming its settings. */
export function reloadLines(): string[] {
  const width = Math.max(...RELOAD_KINDS.map((k) => k.says.length));
  const lines = ['on reload (gsup reload, HUP, the r key):'];
  for (const { kind, says } of RELOAD_KINDS) {
    const names = SETTINGS.filter((s) => s.reload === kind).map(shownName);
    if (names.length) lines.push(`  ${says.padEnd(width)}  ${names.join(', ')}`);
  }
  return lines;
}

/** Every setting under its flag's name, as `gsup start --help` lists it. */
function shownName(s: AnySetting): string {
  return s.flag;
}
