// The live dashboard: a blessed + blessed-contrib view of the pool's snapshot, and the keys
// front door to the supervisor's commands. It keeps no copy of the pool's truth: every refresh
// reads `source.snapshot()`; only chart history (a view concern) lives here.

import { createRequire } from 'node:module';
import blessed from 'blessed';
import type contrib from 'blessed-contrib';
import {
  COMMANDS,
  type KeyContext,
  keyBinding,
  keyBindings,
  keyLabel,
  type Pool,
  VIEW_KEYS,
} from '../commands.js';
import type { PoolEvent, PoolSnapshot, WorkerOutput } from '../supervisor/snapshot.js';
import {
  columnsFor,
  esc,
  eventLines,
  headerLines,
  outputLine,
  tableHeader,
  tableRow,
} from './format.js';

/** What the dashboard reads: one snapshot, plus the event and output streams. */
export interface PoolSource {
  snapshot(): PoolSnapshot;
  on(event: 'event', listener: (e: PoolEvent) => void): unknown;
  on(event: 'output', listener: (o: WorkerOutput) => void): unknown;
  off(event: 'event', listener: (e: PoolEvent) => void): unknown;
  off(event: 'output', listener: (o: WorkerOutput) => void): unknown;
}

/** What the keys call: the same commands the signals and the control socket call. */
export type PoolCommands = Pool;

export interface DashboardOptions {
  source: PoolSource;
  commands: PoolCommands;
  /** Milliseconds between refreshes. */
  refreshMs?: number;
  /** Terminal streams; default process.stdin / process.stdout. Tests pass a headless terminal. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** `stop`: q stops the pool (gsup start). `detach`: q only leaves (gsup top). */
  quit?: 'stop' | 'detach';
  /** Called when q detaches. */
  onDetach?: () => void;
  /** Called if the dashboard itself fails; it has already restored the terminal. */
  onError?: (err: unknown) => void;
  /** Called when the terminal's input ends: the window was closed or the connection dropped. */
  onTerminalLost?: () => void;
}

// Only the three charts we draw: blessed-contrib's index also loads maps, markdown and more,
// about 7 MB of the supervisor's memory for nothing.
const require = createRequire(import.meta.url);
const charts = {
  line: require('blessed-contrib/lib/widget/charts/line') as typeof contrib.line,
  bar: require('blessed-contrib/lib/widget/charts/bar') as typeof contrib.bar,
  sparkline: require('blessed-contrib/lib/widget/sparkline') as typeof contrib.sparkline,
};

/** Chart history kept: one sample per refresh. */
const HISTORY = 180;
/** Below this size the charts are dropped so the table and the log keep their room. */
const CHARTS_MIN_ROWS = 34;
const CHARTS_MIN_COLS = 90;
const LOG_LINES_KEPT = 2000;

/** The `?` help: every command key from the command table, then the view's own keys. */
function helpText(quit: 'stop' | 'detach'): string {
  const line = (keys: string, text: string) => `  ${keys.padEnd(9)}${text}`;
  const commandLines = keyBindings()
    .filter((b) => b.help !== undefined)
    .map((b) =>
      line(
        keyLabel(b),
        quit === 'detach' && b.command.name === 'stop'
          ? 'detach; the server keeps running'
          : (b.help ?? ''),
      ),
    );
  return [
    '{bold}Keys{/bold}',
    '',
    ...commandLines,
    ...VIEW_KEYS.map((v) => line(v.label, v.help)),
    '',
    'Press any key to close.',
  ].join('\n');
}

type Widget = blessed.Widgets.BlessedElement;

export class Dashboard {
  private readonly screen: blessed.Widgets.Screen;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly tableBox: blessed.Widgets.BoxElement;
  private readonly tableTitle: blessed.Widgets.BoxElement;
  private readonly table: blessed.Widgets.ListElement;
  private readonly log: blessed.Widgets.Log;
  private readonly footer: blessed.Widgets.BoxElement;
  private readonly help: blessed.Widgets.BoxElement;
  private charts: Widget[] = [];
  private chartsShown = false;
  private readonly rpsHistory: number[] = [];
  private readonly cpuHistory: number[] = [];
  private readonly rssHistory: number[] = [];
  private selectedPid: number | null = null;
  private rowPids: number[] = [];
  private logFocused = false;
  private stopping = false;
  private destroyed = false;
  private timer: NodeJS.Timeout | null = null;
  private renderPending = false;
  private lastSnapshot: PoolSnapshot | null = null;
  private readonly onEvent = (e: PoolEvent) =>
    this.guard(() => {
      if (e.level !== 'debug') this.appendLog(eventLines(e));
      // Pool events change the header and the table: show it now, not at the next tick.
      this.scheduleRefresh();
    });
  private readonly onOutput = (o: WorkerOutput) =>
    this.guard(() => this.appendLog([outputLine(o)]));

  constructor(private readonly options: DashboardOptions) {
    this.screen = blessed.screen({
      input: options.input,
      output: options.output,
      terminal: 'xterm-256color',
      smartCSR: true,
      fullUnicode: true,
      warnings: false,
      autoPadding: true,
      title: 'gsup',
    } as blessed.Widgets.IScreenOptions);
    this.header = blessed.box({
      parent: this.screen,
      top: 0,
      left: 0,
      width: '100%',
      height: 3,
      tags: true,
    });
    this.tableBox = blessed.box({
      parent: this.screen,
      left: 0,
      width: '100%',
      border: { type: 'line' },
      label: ' workers ',
      style: { border: { fg: 'blue' } },
    });
    this.tableTitle = blessed.box({
      parent: this.tableBox,
      top: 0,
      left: 0,
      right: 0,
      height: 1,
      style: { bold: true },
    });
    this.table = blessed.list({
      parent: this.tableBox,
      top: 1,
      left: 0,
      right: 0,
      tags: true,
      style: { selected: { bg: 'blue' }, item: {} },
    });
    this.log = blessed.log({
      parent: this.screen,
      left: 0,
      width: '100%',
      border: { type: 'line' },
      label: ' events and worker output ',
      tags: true,
      scrollback: LOG_LINES_KEPT,
      scrollbar: { ch: ' ', style: { bg: 'blue' } },
      style: { border: { fg: 'blue' } },
    } as blessed.Widgets.LogOptions);
    this.footer = blessed.box({
      parent: this.screen,
      bottom: 0,
      left: 0,
      width: '100%',
      height: 1,
      tags: true,
    });
    const help = helpText(options.quit ?? 'stop');
    this.help = blessed.box({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width: 84,
      height: help.split('\n').length + 3,
      border: { type: 'line' },
      label: ' help ',
      tags: true,
      content: help,
      hidden: true,
      style: { border: { fg: 'yellow' } },
    });
    this.footer.setContent(this.footerText());
    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg) =>
      this.guard(() => this.onKey(ch, key)),
    );
    this.screen.on('resize', () => this.guard(() => this.refresh()));
    // The terminal went away (window closed, ssh dropped): nothing left to draw on.
    const input = options.input ?? process.stdin;
    input.once('end', () => this.options.onTerminalLost?.());
    input.once('error', () => this.options.onTerminalLost?.());
  }

  /** Starts drawing and listening. */
  start(): void {
    this.options.source.on('event', this.onEvent);
    this.options.source.on('output', this.onOutput);
    for (const e of this.options.source.snapshot().events.slice(-50))
      this.log.log(eventLines(e).join('\n'));
    this.guard(() => this.refresh());
    this.timer = setInterval(
      () => this.guard(() => this.refresh()),
      this.options.refreshMs ?? 1000,
    );
  }

  /** Stops drawing and gives the terminal back as it was. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.timer) clearInterval(this.timer);
    this.options.source.off('event', this.onEvent);
    this.options.source.off('output', this.onOutput);
    try {
      this.screen.destroy();
    } catch {
      // the terminal is gone already
    }
  }

  /** Redraws everything from a fresh snapshot. */
  refresh(): void {
    if (this.destroyed) return;
    const snap = this.options.source.snapshot();
    this.lastSnapshot = snap;
    this.record(snap);
    this.layout(snap);
    const width = Math.max(20, (this.screen.width as number) - 2);
    this.header.setContent(headerLines(snap, width).join('\n'));
    const cols = columnsFor(width - 1);
    this.tableTitle.setContent(tableHeader(cols));
    this.rowPids = snap.workers.map((w) => w.pid);
    this.table.setItems(snap.workers.map((w) => tableRow(w, snap, cols)) as never);
    let index = this.selectedPid === null ? 0 : this.rowPids.indexOf(this.selectedPid);
    if (index < 0) index = Math.min(this.table.getScroll?.() ?? 0, this.rowPids.length - 1);
    if (this.rowPids.length > 0) {
      this.table.select(Math.max(0, index));
      this.selectedPid = this.rowPids[Math.max(0, index)] ?? null;
    }
    if (this.chartsShown) this.drawCharts(snap);
    this.screen.render();
  }

  private record(snap: PoolSnapshot): void {
    push(this.rpsHistory, snap.totals.rps);
    push(
      this.cpuHistory,
      snap.workers.reduce((n, w) => n + (w.cpu ?? 0), 0),
    );
    push(this.rssHistory, snap.workers.reduce((n, w) => n + (w.rss ?? 0), 0) / 1024 / 1024);
  }

  /** Places the widgets for the current terminal size. Charts go first when room is short. */
  private layout(snap: PoolSnapshot): void {
    const rows = this.screen.height as number;
    const cols = this.screen.width as number;
    const headerH = 3;
    const body = Math.max(4, rows - headerH - 1);
    const wantCharts = rows >= CHARTS_MIN_ROWS && cols >= CHARTS_MIN_COLS;
    const chartsH = wantCharts ? Math.min(12, Math.floor(body / 3)) : 0;
    const rest = body - chartsH;
    const tableH = Math.max(5, Math.min(snap.workers.length + 3, Math.floor(rest * 0.6)));
    this.tableBox.top = headerH;
    this.tableBox.height = tableH;
    this.table.height = Math.max(1, tableH - 3);
    this.log.top = headerH + tableH + chartsH;
    this.log.height = Math.max(3, rest - tableH);
    const chartsTop = headerH + tableH;
    const geometry = `${chartsTop}:${chartsH}:${cols}`;
    if (
      wantCharts !== this.chartsShown ||
      (wantCharts && this.charts[0]?.get?.('geometry', '') !== geometry)
    ) {
      for (const c of this.charts) c.destroy();
      this.charts = wantCharts ? this.makeCharts(chartsTop, chartsH, cols, geometry) : [];
      this.chartsShown = wantCharts;
    }
  }

  private makeCharts(top: number, height: number, cols: number, geometry: string): Widget[] {
    const half = Math.floor(cols / 2);
    const quarter = Math.floor((cols - half) / 2);
    const line = charts.line({
      screen: this.screen,
      top,
      left: 0,
      width: half,
      height,
      label: ' total req/s ',
      showLegend: false,
      style: { line: 'green', text: 'white', baseline: 'blue' },
      border: { type: 'line', fg: 'blue' },
    } as never) as unknown as Widget;
    const bar = charts.bar({
      screen: this.screen,
      top,
      left: half,
      width: quarter,
      height,
      label: ' share of requests % ',
      barWidth: 3,
      barSpacing: 1,
      xOffset: 0,
      maxHeight: 100,
      border: { type: 'line', fg: 'blue' },
    } as never) as unknown as Widget;
    const spark = charts.sparkline({
      screen: this.screen,
      top,
      left: half + quarter,
      width: cols - half - quarter,
      height,
      label: ' cpu and memory ',
      tags: true,
      style: { fg: 'cyan', titleFg: 'white' },
      border: { type: 'line', fg: 'blue' },
    } as never) as unknown as Widget;
    // Appended, not parented: contrib's charts build their canvas when attached.
    for (const w of [line, bar, spark]) {
      w.set('geometry', geometry);
      this.screen.append(w);
    }
    return [line, bar, spark];
  }

  private drawCharts(snap: PoolSnapshot): void {
    const [line, bar, spark] = this.charts as unknown as [
      { setData(d: unknown): void },
      { setData(d: unknown): void; width: number },
      { setData(titles: string[], data: number[][]): void },
    ];
    const ys = this.rpsHistory.length > 1 ? this.rpsHistory : [0, ...this.rpsHistory];
    line.setData([{ title: 'req/s', x: ys.map(() => ' '), y: ys, style: { line: 'green' } }]);
    const total = snap.workers.reduce((n, w) => n + (w.requests ?? 0), 0);
    const fit = Math.max(1, Math.floor(((bar.width as number) - 2) / 4));
    const shown = snap.workers.slice(0, fit);
    bar.setData({
      titles: shown.map((w) => `w${w.slot}`),
      data: shown.map((w) => (total > 0 ? Math.round(((w.requests ?? 0) * 100) / total) : 0)),
    });
    const cpuNow = this.cpuHistory[this.cpuHistory.length - 1] ?? 0;
    const rssNow = this.rssHistory[this.rssHistory.length - 1] ?? 0;
    spark.setData(
      [`cpu ${cpuNow.toFixed(0)}%`, `rss ${rssNow.toFixed(0)} MB`],
      [this.cpuHistory.map((v) => Math.round(v)), this.rssHistory.map((v) => Math.round(v))],
    );
  }

  private onKey(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg): void {
    if (!this.help.hidden) {
      this.help.hide();
      this.scheduleRender();
      return;
    }
    const name = key?.full ?? key?.name;
    const binding = keyBinding(ch, name);
    if (this.logFocused) {
      if (ch === 'l' || name === 'escape') {
        this.focusLog(false);
        return;
      }
      // Stopping still works from the log; other commands wait until it is left.
      if (binding?.command.name === 'stop') {
        this.runKey(binding);
        return;
      }
      if (name === 'up') this.log.scroll(-1);
      else if (name === 'down') this.log.scroll(1);
      else if (name === 'pageup') this.log.scroll(-((this.log.height as number) - 2));
      else if (name === 'pagedown') this.log.scroll((this.log.height as number) - 2);
      this.scheduleRender();
      return;
    }
    if (binding) {
      this.runKey(binding);
      return;
    }
    const view = VIEW_KEYS.find(
      (v) =>
        (ch !== undefined && (v.keys as readonly string[]).includes(ch)) ||
        (name !== undefined && (v.keys as readonly string[]).includes(name)),
    );
    switch (view?.action) {
      case 'select':
        this.moveSelection(name === 'up' ? -1 : 1);
        return;
      case 'log':
        this.focusLog(true);
        return;
      case 'help':
        this.help.show();
        this.help.setFront();
        this.scheduleRender();
        return;
    }
  }

  /** A command key: echoed into the log, then the command run through the same table as every door. */
  private runKey(binding: NonNullable<ReturnType<typeof keyBinding>>): void {
    if (binding.command.name === 'stop' && this.options.quit === 'detach') {
      this.note('detaching; the server keeps running');
      this.options.onDetach?.();
      return;
    }
    const selected = this.lastSnapshot?.workers.find((w) => w.pid === this.selectedPid);
    const ctx: KeyContext = {
      selected:
        this.selectedPid === null ? null : { pid: this.selectedPid, slot: selected?.slot ?? '?' },
      stopping: this.stopping,
    };
    const args = binding.args(ctx);
    if (args === null) return;
    this.note(binding.note(ctx));
    const done = binding.command.run(this.options.commands, args, 'key');
    // A remote pool that fails shows it by closing the connection; the key has nothing to add.
    if (done instanceof Promise) done.catch(() => undefined);
    if (binding.command.name === 'stop') {
      this.stopping = true;
      this.scheduleRender();
    } else this.refresh();
  }

  private moveSelection(by: number): void {
    if (this.rowPids.length === 0) return;
    const at = this.selectedPid === null ? 0 : Math.max(0, this.rowPids.indexOf(this.selectedPid));
    const next = Math.max(0, Math.min(this.rowPids.length - 1, at + by));
    this.selectedPid = this.rowPids[next] ?? null;
    this.table.select(next);
    this.scheduleRender();
  }

  private focusLog(on: boolean): void {
    this.logFocused = on;
    this.log.style.border = { fg: on ? 'yellow' : 'blue' };
    this.log.setLabel(
      on
        ? ' log (focused: ↑ ↓ PgUp PgDn scroll, l or Esc to leave) '
        : ' events and worker output ',
    );
    if (!on) this.log.setScrollPerc(100);
    this.scheduleRender();
  }

  /** Echoes a user action into the log. */
  private note(text: string): void {
    this.appendLog([
      `{magenta-fg}${new Date().toISOString().slice(11, 19)} ${esc(text)}{/magenta-fg}`,
    ]);
  }

  private appendLog(lines: string[]): void {
    if (this.destroyed) return;
    for (const l of lines) this.log.log(l);
    this.scheduleRender();
  }

  private refreshPending = false;

  private scheduleRefresh(): void {
    if (this.refreshPending || this.destroyed) return;
    this.refreshPending = true;
    setTimeout(() => {
      this.refreshPending = false;
      this.guard(() => this.refresh());
    }, 50);
  }

  private scheduleRender(): void {
    if (this.renderPending || this.destroyed) return;
    this.renderPending = true;
    setTimeout(() => {
      this.renderPending = false;
      this.guard(() => this.screen.render());
    }, 30);
  }

  /** One entry per command (from the command table), then the view's keys. */
  private footerText(): string {
    const commands = COMMANDS.flatMap((c) =>
      c.footer
        ? [
            [
              c.footer.keys,
              c.name === 'stop' && this.options.quit === 'detach' ? 'detach' : c.footer.label,
            ],
          ]
        : [],
    );
    const keys = [
      ...commands.filter(([k]) => k !== 'q'),
      ...VIEW_KEYS.map((v) => [v.footer, v.action]),
      ...commands.filter(([k]) => k === 'q'),
    ];
    return keys.map(([k, what]) => `{inverse} ${k} {/inverse} ${what}`).join(' ');
  }

  /** A dashboard error must never take the workers down: restore the terminal and report. */
  private guard(fn: () => void): void {
    if (this.destroyed) return;
    try {
      fn();
    } catch (err) {
      this.destroy();
      this.options.onError?.(err);
    }
  }
}

function push(history: number[], value: number): void {
  history.push(value);
  if (history.length > HISTORY) history.shift();
}
