// gsup's JSON log (`--log-format json`) read back as typed values: each line is a pool event, a
// line a worker printed, or one of gsup's own plain lines. Lines that are not JSON (a start-up
// error on stderr) stay text. Nothing here reads the prose of a message to learn what happened.

import type { EventType, PoolEvent, WorkerOutput } from '../src/events.js';

export type { EventType, PoolEvent, WorkerOutput };

/** The pool event of one type, with its details. */
export type EventOf<T extends EventType> = Extract<PoolEvent, { type: T }>;

/** One line of gsup's log, read. */
export type LogLine =
  | { kind: 'event'; event: PoolEvent }
  | { kind: 'output'; output: WorkerOutput; at: number }
  | { kind: 'log'; level: string; message: string; at: number }
  | { kind: 'text'; text: string; at: number };

/** Reads one line of gsup's log; anything that is not one of its JSON objects is text. */
export function readLine(text: string): LogLine {
  const now = Date.now();
  if (!text.startsWith('{')) return { kind: 'text', text, at: now };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'text', text, at: now };
  }
  if (typeof parsed !== 'object' || parsed === null) return { kind: 'text', text, at: now };
  const { time, ...rest } = parsed as { time?: unknown; type?: unknown } & Record<string, unknown>;
  if (typeof time !== 'string' || typeof rest.type !== 'string') {
    return { kind: 'text', text, at: now };
  }
  const at = Date.parse(time);
  if (rest.type === 'output') {
    const { slot, pid, stream, line } = rest as unknown as WorkerOutput;
    return { kind: 'output', output: { slot, pid, stream, line }, at };
  }
  if (rest.type === 'log') {
    return { kind: 'log', level: String(rest.level), message: String(rest.message), at };
  }
  return { kind: 'event', event: { ...rest, at } as unknown as PoolEvent };
}

/** What a person would read for a line, as the text log shows it without its time stamp. */
export function textOf(line: LogLine): string[] {
  switch (line.kind) {
    case 'event':
      if (line.event.level === 'debug') return [];
      // Frames unindented: an indented `at` is how tests spot a raw stack trace gsup should never print.
      return [line.event.message, ...(line.event.stack ?? []).map((f) => `at ${f}`)];
    case 'output': {
      const o = line.output;
      return [`[w${o.slot} ${o.pid}${o.stream === 'stderr' ? ' err' : ''}] ${o.line}`];
    }
    case 'log':
      return [line.message];
    case 'text':
      return [line.text];
  }
}

/** The events' view of the pool: the pids that booted, and those ready and not yet gone. */
export class PoolView {
  readonly events: PoolEvent[] = [];

  /** Worker pids that became ready and have not exited since. */
  readyPids(): number[] {
    const ready = new Set<number>();
    for (const e of this.events) {
      if (e.type === 'worker-ready') ready.add(e.pid);
      if (e.type === 'worker-exit') ready.delete(e.pid);
    }
    return [...ready];
  }

  /** All worker pids ever spawned. */
  allPids(): number[] {
    const pids = new Set<number>();
    for (const e of this.events) if (e.type === 'worker-spawn') pids.add(e.pid);
    return [...pids];
  }

  /** The first event of `type` at or after index `from` that satisfies `predicate`, if any yet. */
  find<T extends EventType>(
    type: T,
    predicate: (e: EventOf<T>) => boolean = () => true,
    from = 0,
  ): EventOf<T> | undefined {
    for (const e of this.events.slice(from)) {
      if (e.type === type && predicate(e as EventOf<T>)) return e as EventOf<T>;
    }
    return undefined;
  }

  /** How many events of `type` (from index `from`) satisfy `predicate`. */
  count<T extends EventType>(
    type: T,
    predicate: (e: EventOf<T>) => boolean = () => true,
    from = 0,
  ): number {
    return this.events.slice(from).filter((e) => e.type === type && predicate(e as EventOf<T>))
      .length;
  }
}
