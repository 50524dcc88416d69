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
    // A silent worker's count is from before it went quiet: unknown now.
    cell: (w) => (w.label === 'silent' ? '?' : w.inFlight === null ? '-' : String(w.inFlight)),
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
      return 'red'; // silent, timed out, flapping, exited
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

/**
 * One item of a header line. `forms` go from the longest to the shortest; an empty form means the
 * item may be left out. When a line is too wide, the item with the lowest `givesWay` steps down
 * first; an item with one form always shows (the line wraps rather than lose it).
 */
export interface HeaderItem {
  forms: string[];
  givesWay?: number;
}

/** The header's lines: who and where, then how the pool is doing, then its counters. */
export function headerLines(s: PoolSnapshot, width: number, name?: string): string[] {
  return headerGroups(s, name).flatMap((items) => fitLine(items, width));
}

/** What the workers run, longest form first: the Node version for gsup's own workers, else the worker class. */
function runsOn(s: PoolSnapshot): string[] {
  const k = s.workerClass;
  if (k?.kind === 'wsgi') return [`-k wsgi (${esc(k.python)})`, '-k wsgi'];
  if (k?.kind === 'exec') return ['-k exec'];
  return [`node ${s.versions.node}`, ''];
}

/** The header's three lines, as items; a new header item is one more entry here. */
export function headerGroups(s: PoolSnapshot, name?: string): HeaderItem[][] {
  const app = esc(s.app);
  const appBase = esc(s.app.split('/').pop() ?? s.app);
  const who: HeaderItem[] = [
    {
      forms: [
        `{bold}gsup ${s.versions.gsup}{/bold} (pid ${s.pid})`,
        `{bold}gsup{/bold} (pid ${s.pid})`,
      ],
      givesWay: 3,
    },
    // The name `gsup status --name`, `gsup top --name` and the other verbs take.
    ...(name ? [{ forms: [`name {bold}${esc(name)}{/bold}`] }] : []),
    ...(s.listening.length > 0
      ? s.listening.map((url) => ({ forms: [esc(url)] }))
      : [{ forms: ['(not bound)'] }]),
    {
      forms:
        appBase === app
          ? [`app {bold}${app}{/bold}`]
          : [`app {bold}${app}{/bold}`, `app {bold}${appBase}{/bold}`],
      givesWay: 1,
    },
    { forms: [`up ${duration(s.uptimeMs)}`, ''], givesWay: 2 },
    // The Node version may go; a worker class other than node stays, shortened.
    { forms: runsOn(s), givesWay: 0 },
  ];
  // During a reload old and new workers serve side by side: more may be ready than wanted.
  const silent = s.workers.filter((w) => w.label === 'silent').length;
  const live = [
    s.live !== s.ready ? `${s.live} live` : '',
    silent > 0 ? `{red-fg}${silent} silent{/red-fg}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const detail = live ? ` (${live})` : '';
  const how: HeaderItem[] = [
    { forms: [stateText(s)] },
    {
      forms: [
        s.ready > s.target
          ? `workers {bold}${s.ready}{/bold} ready, ${s.target} wanted${detail}`
          : `workers {bold}${s.ready}/${s.target}{/bold} ready${detail}`,
      ],
    },
    {
      forms: [
        `{bold}${rate(s.totals.rps)}{/bold} req/s (last 2s)`,
        `{bold}${rate(s.totals.rps)}{/bold} req/s (2s)`,
      ],
      givesWay: 0,
    },
    {
      forms: [`${count(s.totals.requests)} requests`, `${count(s.totals.requests)} reqs`],
      givesWay: 1,
    },
    { forms: [`${s.totals.inFlight} in flight`, `${s.totals.inFlight} infl`], givesWay: 2 },
    { forms: [paint(s.totals.status[4] > 0 ? 'red' : null, `5xx ${count(s.totals.status[4])}`)] },
  ];
  const counters: HeaderItem[] = [
    { forms: [`reloads ${s.totals.reloads}`] },
    { forms: [`restarts ${s.totals.restarts}`] },
    { forms: [`timeout ${s.timeoutMs ? secs(s.timeoutMs) : 'off'}`] },
    { forms: [`max-workers ${s.maxWorkers}`, `max ${s.maxWorkers}`], givesWay: 0 },
    ...waitingItems(s),
  ];
  return [who, how, counters];
}

/** Slots waiting out a backoff: each by name when there are one or two, else one summary. */
function waitingItems(s: PoolSnapshot): HeaderItem[] {
  const red = (t: string) => `{red-fg}${esc(t)}{/red-fg}`;
  if (s.waiting.length > 2) {
    const next = Math.min(...s.waiting.map((x) => x.retryInMs));
    const slots = s.waiting.map((x) => x.slot).join(', ');
    return [
      {
        forms: [
          red(`${s.waiting.length} slots flapping (${slots}; next retry in ${secs(next)})`),
          red(`${s.waiting.length} slots flapping`),
        ],
      },
    ];
  }
  return s.waiting.map((x) => ({
    forms: [
      red(`slot ${x.slot} flapping (${x.failures} failed boots, retry in ${secs(x.retryInMs)})`),
      red(`slot ${x.slot} flapping`),
    ],
  }));
}

const GAP = '  ';

/**
 * Lays items out in `width` columns: the whole line if it fits, else items step down to shorter
 * forms (lowest `givesWay` first), and what still does not fit wraps to more lines. Items are never
 * cut in the middle unless one alone is wider than the line.
 */
export function fitLine(items: HeaderItem[], width: number): string[] {
  const at = items.map(() => 0);
  const text = () =>
    items
      .map((it, i) => it.forms[at[i] ?? 0] ?? '')
      .filter((t) => t !== '')
      .join(GAP);
  for (;;) {
    if (visibleLength(text()) <= width) return [text()];
    let pick = -1;
    items.forEach((it, i) => {
      if ((at[i] ?? 0) >= it.forms.length - 1) return;
      const best = pick === -1 ? Number.POSITIVE_INFINITY : (items[pick]?.givesWay ?? 99);
      if ((it.givesWay ?? 99) <= best) pick = i;
    });
    if (pick === -1) break;
    at[pick] = (at[pick] ?? 0) + 1;
  }
  const lines: string[] = [];
  let line = '';
  for (const [i, it] of items.entries()) {
    const t = it.forms[at[i] ?? 0] ?? '';
    if (t === '') continue;
    const joined = line === '' ? t : `${line}${GAP}${t}`;
    if (line !== '' && visibleLength(joined) > width) {
      lines.push(clip(line, width));
      line = t;
    } else line = joined;
  }
  if (line !== '') lines.push(clip(line, width));
  return lines;
}

/** The footer: one entry per command key and view key, as compact as the width needs. */
export function footerLine(entries: Array<[keys: string, label: string]>, width: number): string {
  const forms = [
    entries.map(([k, what]) => `{inverse} ${esc(k)} {/inverse} ${what}`).join(' '),
    entries.map(([k, what]) => `{inverse}${esc(k)}{/inverse} ${what}`).join('  '),
    entries.map(([k, what]) => `{inverse}${esc(k)}{/inverse} ${what}`).join(' '),
  ];
  return clip(forms.find((f) => visibleLength(f) <= width) ?? forms[forms.length - 1] ?? '', width);
}

/** The `?` help as lines of at most `width` characters: keys, then their text wrapped under it. */
export function helpLines(
  entries: Array<[keys: string, text: string]>,
  width: number,
  title = '{bold}Keys{/bold}',
): string[] {
  const keyWidth = Math.max(...entries.map(([k]) => k.length)) + 3;
  const textWidth = Math.max(10, width - keyWidth - 2);
  const lines = [title, ''];
  for (const [keys, text] of entries) {
    wrapWords(text, textWidth).forEach((part, i) => {
      lines.push(`  ${(i === 0 ? keys : '').padEnd(keyWidth)}${esc(part)}`);
    });
  }
  lines.push('', ...wrapWords('Press any key to close.', width));
  return lines;
}

/** Splits text at spaces into lines of at most `width` characters (a longer word is cut). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

/** The characters a tagged line takes on screen. */
export function visibleLength(text: string): number {
  return plain(text).length;
}

/** One bar of the share chart. */
export interface Share {
  label: string;
  /** Whole percent; the bars add up to 100 when anything was served. */
  percent: number;
}

/**
 * Each worker's share of the requests its live workers served, as whole percents that add up to
 * 100 (largest remainders), in slot order. When more than `room` would show, the largest
 * `room - 1` are kept and the rest are summed into one "others" entry that says how many.
 */
export function shares(workers: readonly WorkerSnapshot[], room: number): Share[] {
  // An exec worker's count is unknown (null): it has no share to show.
  const total = workers.reduce((n, w) => n + (w.requests ?? 0), 0);
  const exact = workers.map((w) => (total > 0 ? ((w.requests ?? 0) * 100) / total : 0));
  const percent = exact.map(Math.floor);
  if (total > 0) {
    let left = 100 - percent.reduce((a, b) => a + b, 0);
    const byRemainder = exact
      .map((v, i) => [v - Math.floor(v), i] as const)
      .sort((a, b) => b[0] - a[0]);
    for (const [, i] of byRemainder) {
      if (left <= 0) break;
      percent[i] = (percent[i] ?? 0) + 1;
      left--;
    }
  }
  const all = workers.map((w, i) => ({
    label: `w${w.slot}`,
    percent: percent[i] ?? 0,
    requests: w.requests ?? 0,
    i,
  }));
  if (all.length <= room) return all.map(({ label, percent }) => ({ label, percent }));
  const keep = Math.max(0, room - 1);
  const top = [...all]
    .sort((a, b) => b.requests - a.requests || a.i - b.i)
    .slice(0, keep)
    .sort((a, b) => a.i - b.i);
  const rest = all.length - top.length;
  const others = 100 - top.reduce((n, s) => n + s.percent, 0);
  return [
    ...top.map(({ label, percent }) => ({ label, percent })),
    { label: `${rest} others`, percent: total > 0 ? others : 0 },
  ];
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar `percent`% of `width` cells long, in eighths of a cell. */
export function bar(percent: number, width: number): string {
  const eighths = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] ?? '');
}

/**
 * The share chart's text for a box of `width`×`height` cells: every worker as `label bar NN%`,
 * in as many columns as fit; the top ones and "N others" when even that is not enough.
 */
export function shareChart(
  workers: readonly WorkerSnapshot[],
  width: number,
  height: number,
): string[] {
  if (height < 1 || width < 8) return [];
  const MIN_BAR = 3;
  const labelWidth = (list: Share[]) => Math.max(3, ...list.map((s) => s.label.length));
  // Columns of at least label + bar + " 100%", two spaces apart.
  const columnsFit = (lw: number) =>
    Math.max(1, Math.floor((width + 2) / (lw + 1 + MIN_BAR + 5 + 2)));
  let list = shares(workers, Math.max(1, columnsFit(3) * height));
  let columns = columnsFit(labelWidth(list));
  if (list.length > columns * height) {
    list = shares(workers, Math.max(1, columns * height));
    columns = columnsFit(labelWidth(list));
  }
  const lw = labelWidth(list);
  const used = Math.min(columns, Math.max(1, Math.ceil(list.length / height)));
  const colWidth = Math.floor((width + 2) / used) - 2;
  const barWidth = Math.max(1, colWidth - lw - 1 - 5);
  const rows = Math.min(height, list.length);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (let c = 0; c < used; c++) {
      const s = list[c * rows + r];
      if (!s) continue;
      const pct = `${String(s.percent).padStart(3)}%`;
      cells.push(
        `${esc(s.label.padEnd(lw))} {green-fg}${bar(s.percent, barWidth).padEnd(barWidth)}{/green-fg} ${pct}`,
      );
    }
    lines.push(cells.join('  '));
  }
  return lines;
}

/** The req/s chart's y axis: whole, round steps (1, 2, 5 × 10ⁿ), the top label at or above `max`. */
export function chartScale(max: number): { maxY: number; numYLabels: number; labelWidth: number } {
  const raw = Math.max(max, 1) / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag);
  const n = Math.max(1, Math.ceil(max / step));
  // Half a step of room above the top label, which contrib draws only below maxY.
  return {
    maxY: step * (n + 0.5),
    numYLabels: n + 0.5,
    labelWidth: String(step * n).length,
  };
}

/** The worker table's title: says when rows are out of sight and which way they are. */
export function tableLabel(total: number, first: number, shown: number): string {
  if (total <= shown) return ' workers ';
  const above = first > 0;
  const below = first + shown < total;
  const arrows = above && below ? '↑↓' : above ? '↑' : '↓';
  const range = above ? `${first + 1}–${first + shown}` : String(shown);
  return ` workers: ${range} of ${total} shown, ${arrows} for more `;
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

/** How many frames of a stuck stack the log pane shows under its line. */
export const STACK_FRAMES_SHOWN = 4;

/** A lifecycle event as a log line, colored by level; a timeout's top frames follow it. */
export function eventLines(e: PoolEvent, cwd = process.cwd()): string[] {
  const color = e.level === 'error' ? 'red' : e.level === 'warn' ? 'yellow' : null;
  const head = `${clock(e.at)} ${esc(e.message)}`;
  const lines = [color ? `{${color}-fg}${head}{/${color}-fg}` : head];
  const stack = e.stack ?? [];
  for (const frame of stack.slice(0, STACK_FRAMES_SHOWN))
    lines.push(`{red-fg}         at ${esc(shortFrame(frame, cwd))}{/red-fg}`);
  if (stack.length > STACK_FRAMES_SHOWN)
    lines.push(`{red-fg}         … ${stack.length - STACK_FRAMES_SHOWN} more frames{/red-fg}`);
  return lines;
}

/** A stack frame with its file URL shortened: relative to `cwd` when under it, else a path. */
export function shortFrame(frame: string, cwd: string): string {
  const base = cwd.endsWith('/') ? cwd : `${cwd}/`;
  return frame.split(`file://${base}`).join('').split('file://').join('');
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
