// gsup's log as timed events: every line a server prints is kept with gsup's own timestamp
// (the line's, not when we read it), so benchmarks time lifecycle events to the millisecond.

import { pollUntil } from './wait.js';

/** Starts recording `server`'s lines; returns the record. */
export function record(server) {
  const lines = [];
  server.watchers.add((text) => lines.push({ text, at: stampOf(text) ?? Date.now() }));
  return lines;
}

/** gsup's stamp `2026-11-21 13:55:07.455` (UTC) as epoch ms, or null for an unstamped line. */
export function stampOf(text) {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) /.exec(text);
  return m ? Date.parse(`${m[1]}T${m[2]}Z`) : null;
}

/**
 * The first line after index `from` whose text matches `pattern`, once it is there: resolves
 * with { text, at, match, index }.
 */
export function waitLine(lines, pattern, { from = 0, deadlineMs = 60_000, what } = {}) {
  return pollUntil(
    what ?? `a line matching ${pattern}`,
    () => {
      for (let i = from; i < lines.length; i++) {
        const match = pattern.exec(lines[i].text);
        if (match) return { ...lines[i], match, index: i };
      }
      return null;
    },
    { deadlineMs, intervalMs: 5 },
  );
}
