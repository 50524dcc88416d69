// A headless terminal for dashboard tests: blessed draws into @xterm/headless through custom
// streams, and the test reads the screen as text and types keys, with no real terminal.

import { PassThrough, Writable } from 'node:stream';
import xterm from '@xterm/headless';

export const KEYS = {
  up: '\x1b[A',
  down: '\x1b[B',
  escape: '\x1b',
  ctrlC: '\x03',
} as const;

export class HeadlessTerminal {
  readonly term: xterm.Terminal;
  readonly input: PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => unknown };
  readonly output: Writable & { isTTY: boolean; columns: number; rows: number };

  constructor(cols = 120, rows = 40) {
    this.term = new xterm.Terminal({ cols, rows, allowProposedApi: true });
    const term = this.term;
    const output = new Writable({
      write(chunk: Buffer, _enc, done) {
        term.write(chunk, () => done());
      },
    });
    this.output = Object.assign(output, { isTTY: true, columns: cols, rows });
    const input = new PassThrough();
    this.input = Object.assign(input, { isTTY: true, setRawMode: () => input });
  }

  /** The visible screen, one string per row, trailing blanks trimmed. */
  lines(): string[] {
    const buf = this.term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.term.rows; i++) {
      out.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    }
    return out;
  }

  text(): string {
    return this.lines().join('\n');
  }

  /** Types keys, as a person would. */
  press(keys: string): void {
    this.input.write(keys);
  }

  /** Changes the terminal size and tells the program, as a terminal emulator would. */
  resize(cols: number, rows: number): void {
    this.term.resize(cols, rows);
    this.output.columns = cols;
    this.output.rows = rows;
    this.output.emit('resize');
  }
}
