// `gsup check`: resolves the configuration from every source, prints each setting's effective
// value and where it came from, and exits 0 if gsup start would accept it.

import { checkAppFor } from '../app-spec.js';
import { resolveStart } from '../config/load.js';
import { ConfigError, type Source } from '../config/parse.js';
import { type AnySetting, RELOAD_KINDS, SETTINGS } from '../config/schema.js';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { supervisorOptions } from './options.js';

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
      const value = r.config[s.key];
      const shown =
        s.key === 'umask' && typeof value === 'number'
          ? `0${value.toString(8).padStart(3, '0')}`
          : Array.isArray(value)
            ? value.join(' ') || '(none)'
            : value === null
              ? '(none)'
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
    process.stdout.write(
      `${lines.join('\n')}\n\ngsup: the configuration is valid${r.file ? ` (config file ${r.file})` : ''}\n`,
    );
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
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

/** Switches read as their config-file key (tui, controlEnabled), the rest as their flag. */
function shownName(s: AnySetting): string {
  return s.type === 'flag' ? s.key : s.flag;
}
