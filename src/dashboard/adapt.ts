// Pure text for the adapting pool, shown in the worker table's label (the dashboard) and as a
// line of `gsup status`: whether autoscale is on, its bounds, the signals it reads, and its last
// decision with the reason; the memory limit when memory recycling is on.

import type { PoolSnapshot } from '../supervisor/snapshot.js';

/** One line: "autoscale on 1..4: util 0.93, 37 queued, lag 12 ms; last 2→4 (12:00:01): utilization ...". */
export function autoscaleLine(s: PoolSnapshot): string | null {
  const a = s.autoscale;
  const memory = s.memory
    ? `; recycle over ${Math.round(s.memory.limitBytes / 1024 / 1024)} MB rss`
    : '';
  if (!a) return memory ? memory.slice(2) : null;
  if (!a.enabled) return `autoscale off (a: on)${memory}`;
  const sig = a.signals;
  const parts: string[] = [];
  if (sig) {
    parts.push(`util ${sig.utilization === null ? '-' : sig.utilization.toFixed(2)}`);
    parts.push(sig.queued === null ? 'queue -' : `${sig.queued} queued`);
    parts.push(`lag ${sig.lagMs === null ? '-' : `${Math.round(sig.lagMs)} ms`}`);
  }
  const last = a.last
    ? `; last ${a.last.from}→${a.last.to} (${new Date(a.last.at).toISOString().slice(11, 19)}): ${a.last.reason}`
    : '';
  return `autoscale on ${a.min}..${a.max}: ${parts.join(', ') || 'no signals yet'}; ${a.status}${last}${memory}`;
}

/**
 * The worker table's label: its name and how many rows are in sight (`rows`, from tableLabel),
 * then the autoscale line, cut to fit `width`: the row count is never the part cut.
 */
export function workersLabel(s: PoolSnapshot, rows: string, width: number): string {
  const line = autoscaleLine(s);
  const text = line ? `${rows.trimEnd()} · ${line} ` : rows;
  const room = Math.max(rows.length + 2, width - 4);
  return text.length > room ? `${text.slice(0, room - 2)}… ` : text;
}
