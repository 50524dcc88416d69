// The real supervisor and the real dashboard, drawing into a headless terminal through the pinned
// view; `capture` turns the terminal's screen into an SVG (and a PNG when resvg is installed).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dashboard } from '../../dist/dashboard/dashboard.js';
import {
  type PoolEvent,
  type PoolSnapshot,
  Supervisor,
  type WorkerOutput,
} from '../../dist/index.js';
import type { WorkerClass } from '../../dist/supervisor/spawn.js';
import type { EventOf, EventType } from '../../harness/log.js';
import { pollUntil } from '../../harness/wait.js';
import { HeadlessTerminal } from '../../test/term.js';
import { PINNED_ROOT, type PinnedPath, PinnedView } from './pinned.js';
import { toPng } from './png.js';
import { cellsOf, toSvg } from './svg.js';

/** Big enough for the charts (the dashboard drops them below 90×34). */
export const COLS = 120;
export const ROWS = 45;
/** Every wait in the script ends by then, or the script fails and says what it waited for. */
const DEADLINE_MS = 60_000;
/** The dashboard's own timer never fires: the script decides when it redraws. */
const NEVER_MS = 1e9;

export interface Rig {
  sup: Supervisor;
  view: PinnedView;
  term: HeadlessTerminal;
  dash: Dashboard;
  /** Shows the dashboard what happened up to now (or up to the frozen moment) and redraws. */
  settle(): Promise<void>;
  /** settle(), then writes NAME.svg, NAME.png and NAME.txt into `out`; returns the written paths. */
  capture(name: string, title: string): Promise<string[]>;
  /** Resolves with the first event of `type` that satisfies `predicate` (seen or still to come). */
  waitForEvent<T extends EventType>(
    type: T,
    predicate?: (e: EventOf<T>) => boolean,
  ): Promise<EventOf<T>>;
  /** Resolves when a worker has printed a line matching `re` (seen or still to come). */
  waitForOutput(re: RegExp): Promise<WorkerOutput>;
  /** Polls the real pool until `cond` holds. */
  until(what: string, cond: (s: PoolSnapshot) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function makeRig(opts: {
  /** The checkout: shown as PINNED_ROOT. */
  root: string;
  out: string;
  app: string;
  workers: number;
  timeout: number;
  env: Record<string, string | undefined>;
  /** The pool's folder (the app is resolved from it); the checkout when absent. */
  cwd?: string;
  /** The folder `cwd` is shown as, when it is not the checkout. */
  shownCwd?: string;
  /** Gsup's worker class and, for wsgi, the interpreter; node workers when absent. */
  workerClass?: WorkerClass;
  python?: string;
  /** The instance name in the header: `demo`, as `gsup demo` names it, when absent. */
  name?: string;
}): Promise<Rig> {
  const cwd = opts.cwd ?? opts.root;
  const sup = new Supervisor({
    app: opts.app,
    binds: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    workers: opts.workers,
    maxWorkers: 8,
    backlog: 511,
    timeout: opts.timeout,
    bootTimeout: 30,
    gracefulTimeout: 10,
    maxRequests: 0,
    maxRequestsJitter: 0,
    nodeArgs: [],
    cwd,
    env: opts.env,
    ...(opts.workerClass ? { workerClass: opts.workerClass } : {}),
    ...(opts.python ? { python: opts.python } : {}),
  });
  const seen: PoolEvent[] = [];
  const printed: WorkerOutput[] = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  sup.on('event', (e) => {
    seen.push(e);
    wake();
  });
  sup.on('output', (o) => {
    printed.push(o);
    wake();
  });
  /** Resolves with the first item `find` returns, now or after a later event or output line. */
  const waitFor = <T>(what: string, find: () => T | undefined) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}`)),
        DEADLINE_MS,
      );
      const look = () => {
        const hit = find();
        if (hit === undefined) waiters.push(look);
        else {
          clearTimeout(timer);
          resolve(hit);
        }
      };
      look();
    });
  const paths: PinnedPath[] = [[opts.root, PINNED_ROOT]];
  if (cwd !== opts.root) paths.push([cwd, opts.shownCwd ?? '/srv/app']);
  const view = new PinnedView(sup, paths);
  const term = new HeadlessTerminal(COLS, ROWS);
  const errors: unknown[] = [];
  const dash = new Dashboard({
    source: view,
    commands: sup,
    refreshMs: NEVER_MS,
    input: term.input,
    output: term.output,
    onError: (err) => errors.push(err),
    // As `gsup demo` names its instance.
    name: opts.name ?? 'demo',
  });

  const check = () => {
    if (errors.length) throw new Error(`the dashboard failed: ${String(errors[0])}`);
  };
  const flush = async () => {
    // blessed writes into the stream; the stream feeds xterm; xterm parses asynchronously.
    await poll('the terminal stream to drain', () => term.output.writableLength === 0);
    await new Promise<void>((resolve) => term.term.write('', resolve));
  };
  const settle = async () => {
    const before = view.reads;
    // Delivered events schedule one refresh of their own. Output lines only schedule a render of
    // the log (a Django 404's "Not Found: /x" came alone, and the wait for a refresh never ended):
    // without an event, redraw here. Either way, one refresh (one chart sample) per settle.
    if (view.deliver().events > 0) {
      await poll('the dashboard to refresh', () => view.reads > before);
    } else dash.refresh();
    await flush();
    check();
  };

  dash.start();
  await sup.start();
  const port = Number(new URL(sup.urls[0] ?? 'http://127.0.0.1:0').port);
  view.setPort(port);

  return {
    sup,
    view,
    term,
    dash,
    settle,
    async capture(name, title) {
      await settle();
      const cells = cellsOf(term.term);
      const svg = toSvg(cells, title);
      const files = [join(opts.out, `${name}.svg`), join(opts.out, `${name}.txt`)];
      writeFileSync(files[0] ?? '', svg);
      writeFileSync(
        files[1] ?? '',
        `${term
          .lines()
          .map((l) => l.trimEnd())
          .join('\n')
          .trimEnd()}\n`,
      );
      const png = await toPng(svg);
      if (png) {
        const path = join(opts.out, `${name}.png`);
        writeFileSync(path, png);
        files.push(path);
      }
      return files;
    },
    waitForEvent: <T extends EventType>(
      type: T,
      predicate: (e: EventOf<T>) => boolean = () => true,
    ) =>
      waitFor(`a ${type} event`, () =>
        (seen as unknown as EventOf<T>[]).find((e) => e.type === type && predicate(e)),
      ),
    waitForOutput: (re) =>
      waitFor(`a worker output line ${re}`, () => printed.find((o) => re.test(o.line))),
    until: (what, cond) => poll(what, () => cond(sup.snapshot())),
    async close() {
      dash.destroy();
      await sup.stop({ quick: true });
    },
  };
}

/** Polls `cond` on every turn of the event loop until it holds or the deadline passes. */
export async function poll(what: string, cond: () => boolean): Promise<void> {
  await pollUntil(what, cond, { deadlineMs: DEADLINE_MS, intervalMs: 5 });
}
