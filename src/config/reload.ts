// What a reload cannot apply: settings whose reload kind is 'restart' are read once, at start.
// A reload that sees one changed says so in one line instead of ignoring it in silence.

import { type Config, SETTINGS, type SettingType, type SettingValue } from './schema.js';

/** One line per 'restart' setting whose value differs between the running and the new config. */
export function restartNotes(running: Config, next: Config): string[] {
  const notes: string[] = [];
  for (const s of SETTINGS) {
    if (s.reload !== 'restart') continue;
    const was = running[s.key];
    const now = next[s.key];
    if (sameValue(was, now)) continue;
    notes.push(
      `${s.key} changed in the config file (${shown(was, s.type)} → ${shown(now, s.type)}); it takes effect when gsup is restarted`,
    );
  }
  return notes;
}

/** Equal values, lists compared item by item. */
export function sameValue(a: SettingValue, b: SettingValue): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function shown(value: SettingValue, type: SettingType): string {
  if (value === null) return 'unset';
  if (Array.isArray(value)) return value.length ? value.join(' ') : 'none';
  if (type === 'octal' && typeof value === 'number')
    return `0${value.toString(8).padStart(3, '0')}`;
  return String(value);
}
