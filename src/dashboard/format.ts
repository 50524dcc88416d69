// Pure text for the dashboard: the worker table's columns, the header lines, the log lines.
// No blessed here, so layout decisions and formatting are unit-testable.

import type {
  PoolEvent,
  PoolSnapshot,
  WorkerOutput,
  WorkerSnapshot,
} from '../supervisor/snapshot.js';

/** One column of the worker table. Lower priority columns are dropped first when narrow. */
interface Column {
  title: string;
  width: number;
  priority: number;
  align: 'left' | 'right';
  cell: (w: WorkerSnapshot, snap: PoolSnapshot) => string;
}

const COLUMNS: Column[] = [
  { title: 'SLOT', width: 4, priority: 0, align: 'right', cell: (w) => String(w.slot) },
  { title: 'PID', width: 7, priority: 0, align: 'right', cell: (w) => String(w.pid) },
  { title: 'STATE', width: 10, priority: 0, align: 'left', cell: (w) => w.label },
  { title: 'UPTIME', width: 7, priority: 3, align: 'right', cell: (w) => duration(w.uptimeMs) },
  {
    title: 'REQS',
    width: 8,
    priority: 1,
    align: 'right',
    cell: (w) => (w.requests === null ? '-' : count(w.requests)),
  },
  {
    title: 'REQ/S',
    width: 7,
    priority: 1,
    align: 'right',
    cell: (w) => (w.rps === null ? '-' : rate(w.rps)),
  },
  {
    title: 'INFL',
    width: 4,
    priority: 2,
    align: 'right',
    cell: (w) => (w.inFlight === null ? '-' : String(w.inFlight)),
  },
  { title: 'P99', width: 7, priority: 2, align: 'right', cell: (w) => ms(w.p99Ms) },
  { title: 'LAG', width: 6, priority: 4, align: 'right', cell: (w) => ms(w.lagMs) },
  {
    title: 'CPU%',
    width: 5,
    priority: 1,
    align: 'right',
    cell: (w) => (w.cpu === null ? '-' : w.cpu.toFixed(0)),
  },
  { title: 'RSS', width: 6, priority: 1, align: 'right', cell: (w) => bytes(w.rss) },
  {
    title: 'HB',
    width: 5,
    priority: 0,
    align: 'right',
    cell: (w) => (w.heartbeatAgeMs === null ? '-' : secs(w.heartbeatAgeMs)),
  },
  { title: 'RST', width: 3, priority: 2, align: 'right', cell: (w) => String(w.restarts) },
];

/** The columns that fit in `width` characters (one space between columns). */
export function columnsFor(width: number): Column[] {
  const chosen = [...COLUMNS];
  const total = (cols: Column[]) => cols.reduce((n, c) => n + c.width + 1, 0);
  while (total(chosen) > width) {
    const worst = Math.max(...chosen.map((c) => c.priority));
    if (worst === 0) break;
    const i = chosen.map((c) => c.priority).lastIndexOf(worst);
    chosen.splice(i, 1);
  }
  return chosen;
}

function pad(text: string, c: Column): string {
  const t = text.length > c.width ? text.slice(0, c.width) : text;
  return c.align === 'right' ? t.padStart(c.width) : t.padEnd(c.width);
}

/** The table's title row. */
export function tableHeader(cols: Column[]): string {
  return cols.map((c) => pad(c.title, c)).join(' ');
}

/** One worker's row, with blessed color tags on the state and heartbeat age. */
export function tableRow(w: WorkerSnapshot, snap: PoolSnapshot, cols: Column[]): string {
  return cols
    .map((c) => {
      const text = pad(c.cell(w, snap), c);
      if (c.title === 'STATE') return paint(stateColor(w), text);
      if (c.title === 'HB') return paint(heartbeatColor(w.heartbeatAgeMs, snap.timeoutMs), text);
      return text;
    })
    .join(' ');
}

function paint(color: string | null, text: string): string {
  return color ? `{${color}-fg}${text}{/${color}-fg}` : text;
}

function stateColor(w: WorkerSnapshot): string | null {
  switch (w.label) {
    case 'ready':
      return 'green';
    case 'booting':
    case 'spawning':
    case 'replacing':
      return 'cyan';
    case 'draining':
      return 'yellow';
    default:
      return 'red'; // timed out, flapping, exited
  }
}

/** Green while the heartbeat is fresh, yellow past half the timeout, red past 80 %. */
export function heartbeatColor(ageMs: number | null, timeoutMs: number): string | null {
  if (ageMs === null) return null;
  const limit = timeoutMs > 0 ? timeoutMs : 30_000;
  if (ageMs >= limit * 0.8) return 'red';
  if (ageMs >= limit * 0.5) return 'yellow';
  return 'green';
}

/** The header's lines: who and where, then how the pool is doing. */
export function headerLines(s: PoolSnapshot, width: number): string[] {
  const where = s.listening.join(' ') || '(not bound)';
  const first = `{bold}gsup ${s.versions.gsup}{/bold} (pid ${s.pid})  node ${s.versions.node}  app {bold}${esc(s.app)}{/bold}  ${esc(where)}  up ${duration(s.uptimeMs)}`;
  const second = [
    stateText(s),
    // During a reload old and new workers serve side by side: more may be ready than wanted.
    s.ready > s.target
      ? `workers {bold}${s.ready}{/bold} ready, ${s.target} wanted (${s.live} live)`
      : `workers {bold}${s.ready}/${s.target}{/bold} ready (${s.live} live)`,
    `{bold}${rate(s.totals.rps)}{/bold} req/s`,
    `${count(s.totals.requests)} requests`,
    `${s.totals.inFlight} in flight`,
    `5xx ${count(s.totals.status[4])}`,
  ].join('  ');
  let third = `reloads ${s.totals.reloads}  restarts ${s.totals.restarts}  timeout ${s.timeoutMs ? secs(s.timeoutMs) : 'off'}  max-workers ${s.maxWorkers}`;
  if (s.waiting.length > 0) {
    const w = s.waiting
      .map(
        (x) =>
          `slot ${x.slot} flapping (${x.failures} failed boots, retry in ${secs(x.retryInMs)})`,
      )
      .join('; ');
    third += `  {red-fg}${esc(w)}{/red-fg}`;
  }
  const lines = [first, second, third];
  return lines.map((l) => clip(l, width));
}

function stateText(s: PoolSnapshot): string {
  if (s.state === 'reloading' && s.reload) {
    return `{cyan-fg}{bold}RELOADING{/bold} ${s.reload.newReady} new ready / ${s.reload.oldTotal - s.reload.oldLeft} of ${s.reload.oldTotal} old drained{/cyan-fg}`;
  }
  if (s.state === 'stopping') return '{yellow-fg}{bold}STOPPING{/bold}{/yellow-fg}';
  if (s.state === 'running' && s.live !== s.target)
    return '{cyan-fg}{bold}SCALING{/bold}{/cyan-fg}';
  if (s.state === 'running') return '{green-fg}{bold}RUNNING{/bold}{/green-fg}';
  return `{bold}${s.state.toUpperCase()}{/bold}`;
}

/** A lifecycle event as a log line, colored by level; a timeout's top frames follow it. */
export function eventLines(e: PoolEvent): string[] {
  const color = e.level === 'error' ? 'red' : e.level === 'warn' ? 'yellow' : null;
  const head = `${clock(e.at)} ${esc(e.message)}`;
  const lines = [color ? `{${color}-fg}${head}{/${color}-fg}` : head];
  for (const frame of (e.stack ?? []).slice(0, 5))
    lines.push(`{red-fg}         at ${esc(frame)}{/red-fg}`);
  return lines;
}

/** A worker's output line, made safe: no escape sequences, no blessed tags, no control bytes. */
export function outputLine(o: WorkerOutput): string {
  const tag = `[w${o.slot} ${o.pid}${o.stream === 'stderr' ? ' err' : ''}]`;
  return `{gray-fg}${clock(Date.now())} ${tag}{/gray-fg} ${esc(sanitize(o.line))}`;
}

/** Strips ANSI escape sequences and control characters, which would move the cursor or recolor the screen. */
export function sanitize(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '').replace(/\t/g, '  ');
}

// Built from strings: biome rejects control characters in regex literals.
const ESC = String.fromCharCode(27);
const BEL = String.fromCharCode(7);
/** CSI sequences, OSC strings and the two-byte escapes. */
const ANSI = new RegExp(
  `${ESC}(?:\\[[0-?]*[ -/]*[@-~]|\\][^${BEL}${ESC}]*(?:${BEL}|${ESC}\\\\)|[@-Z\\\\-_])`,
  'g',
);
/** C0 controls but tab and newline, and DEL. */
const CONTROL = new RegExp(
  `[${String.fromCharCode(0)}-${String.fromCharCode(8)}${String.fromCharCode(11)}-${String.fromCharCode(31)}${String.fromCharCode(127)}]`,
  'g',
);

/** Escapes blessed's tag syntax. */
export function esc(text: string): string {
  return text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

function clip(line: string, width: number): string {
  // Tags do not take up room; count only visible characters.
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '{') {
      const end = line.indexOf('}', i);
      if (end !== -1) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) continue;
    out += line[i];
    visible++;
  }
  return out;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function count(n: number): string {
  if (n < 100_000) return String(n);
  if (n < 100_000_000) return `${(n / 1000).toFixed(0)}k`;
  return `${(n / 1_000_000).toFixed(0)}M`;
}

export function rate(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function ms(v: number | null): string {
  if (v === null) return '-';
  if (v < 10) return `${v.toFixed(1)}ms`;
  if (v < 10_000) return `${v.toFixed(0)}ms`;
  return `${(v / 1000).toFixed(0)}s`;
}

export function secs(v: number): string {
  return `${(v / 1000).toFixed(1)}s`;
}

export function bytes(v: number | null): string {
  if (v === null) return '-';
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(0)}K`;
  if (v < 1024 * 1024 * 1024) return `${(v / 1024 / 1024).toFixed(0)}M`;
  return `${(v / 1024 / 1024 / 1024).toFixed(1)}G`;
}

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** A tagged line as plain text (for `gsup status`): tags removed, escaped braces restored. */
export function plain(text: string): string {
  return text
    .replace(/\{(?!open\}|close\})[^{}]*\}/g, '')
    .replace(/\{open\}/g, '{')
    .replace(/\{close\}/g, '}');
}
