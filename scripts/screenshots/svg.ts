// A terminal screen as SVG: every cell of the headless terminal's buffer drawn at its grid
// position, with its colors. Box-drawing lines, braille dots (the line chart) and block elements
// (the sparklines) are drawn as shapes, and every glyph of text gets its own x, so the picture is
// the same in any browser and with any monospace font.

import type xterm from '@xterm/headless';

export interface Cell {
  ch: string;
  fg: string;
  /** null: the terminal's background. */
  bg: string | null;
  bold: boolean;
}

/** GitHub's dark terminal palette, with a deeper blue so text on a blue row stays readable. */
const PALETTE = [
  '#484f58',
  '#ff7b72',
  '#3fb950',
  '#d29922',
  '#2f6feb',
  '#bc8cff',
  '#39c5cf',
  '#b1bac4',
  '#6e7681',
  '#ffa198',
  '#56d364',
  '#e3b341',
  '#79c0ff',
  '#d2a8ff',
  '#56d4dd',
  '#f0f6fc',
];
const BACKGROUND = '#0d1117';
const FOREGROUND = '#c9d1d9';
const CELL_W = 8.4;
const CELL_H = 18;
const FONT_SIZE = 14;
const PAD = 14;
const TITLE_H = 26;

/** The visible screen as rows of cells. */
export function cellsOf(term: xterm.Terminal): Cell[][] {
  const buf = term.buffer.active;
  const rows: Cell[][] = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buf.getLine(buf.viewportY + y);
    const row: Cell[] = [];
    for (let x = 0; x < term.cols; x++) {
      const cell = line?.getCell(x);
      if (!cell) {
        row.push({ ch: ' ', fg: FOREGROUND, bg: null, bold: false });
        continue;
      }
      // The right half of a wide character: drawn by its left half.
      if (cell.getWidth() === 0) {
        row.push({ ch: '', fg: FOREGROUND, bg: null, bold: false });
        continue;
      }
      const bold = cell.isBold() !== 0;
      let fg = color(cell.isFgDefault(), cell.isFgRGB(), cell.getFgColor(), FOREGROUND, bold);
      let bg: string | null = color(
        cell.isBgDefault(),
        cell.isBgRGB(),
        cell.getBgColor(),
        '',
        false,
      );
      if (cell.isInverse()) [fg, bg] = [bg || BACKGROUND, fg];
      row.push({ ch: cell.getChars() || ' ', fg, bg: bg || null, bold });
    }
    rows.push(row);
  }
  return rows;
}

/** xterm's color of a cell; bold text in the first eight colors is drawn bright, as xterm does. */
function color(isDefault: boolean, isRgb: boolean, value: number, fallback: string, bold: boolean) {
  if (isDefault) return fallback;
  if (isRgb) return `#${value.toString(16).padStart(6, '0')}`;
  return palette256(bold && value < 8 ? value + 8 : value);
}

/** The xterm 256-color palette: 16 named colors, a 6×6×6 cube, 24 grays. */
export function palette256(n: number): string {
  if (n < 16) return PALETTE[n] ?? FOREGROUND;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return hex(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
  }
  const g = 8 + (n - 232) * 10;
  return hex(g, g, g);
}

function hex(r: number, g: number, b: number): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** Which edges of the cell a box-drawing character joins. */
const BOX: Record<string, [boolean, boolean, boolean, boolean]> = {
  // [left, right, up, down]
  '─': [true, true, false, false],
  '│': [false, false, true, true],
  '┌': [false, true, false, true],
  '┐': [true, false, false, true],
  '└': [false, true, true, false],
  '┘': [true, false, true, false],
  '├': [false, true, true, true],
  '┤': [true, false, true, true],
  '┬': [true, true, false, true],
  '┴': [true, true, true, false],
  '┼': [true, true, true, true],
};

/** Braille dot bits, in the order of U+2800's bit positions: [column, row]. */
const BRAILLE_DOTS: Array<[number, number]> = [
  [0, 0],
  [0, 1],
  [0, 2],
  [1, 0],
  [1, 1],
  [1, 2],
  [0, 3],
  [1, 3],
];

/** Renders the cells as an SVG document; `title` is drawn in the window's title bar. */
export function toSvg(rows: Cell[][], title: string): string {
  const cols = rows[0]?.length ?? 0;
  const width = round(PAD * 2 + cols * CELL_W);
  const height = round(TITLE_H + PAD * 2 + rows.length * CELL_H);
  const backgrounds: string[] = [];
  const shapes = new Map<string, string[]>();
  const texts: string[] = [];
  // Path data per paint: `fill:#rgb` for dots and blocks, `stroke:#rgb` for box lines.
  const shape = (paint: string, d: string) => {
    const list = shapes.get(paint) ?? [];
    list.push(d);
    shapes.set(paint, list);
  };

  rows.forEach((row, y) => {
    const top = TITLE_H + PAD + y * CELL_H;
    // Background runs.
    for (let x = 0; x < row.length; ) {
      const bg = row[x]?.bg ?? null;
      let end = x + 1;
      while (end < row.length && (row[end]?.bg ?? null) === bg) end++;
      if (bg) {
        backgrounds.push(
          `<rect x="${round(PAD + x * CELL_W)}" y="${top}" width="${round((end - x) * CELL_W)}" height="${CELL_H}" fill="${bg}"/>`,
        );
      }
      x = end;
    }
    // Text runs: same color and weight, no blanks, no drawn glyphs.
    for (let x = 0; x < row.length; ) {
      const cell = row[x];
      if (!cell || cell.ch === ' ' || cell.ch === '') {
        x++;
        continue;
      }
      const glyph = drawGlyph(cell.ch, PAD + x * CELL_W, top);
      if (glyph) {
        shape(`${glyph.kind}:${cell.fg}`, glyph.d);
        x++;
        continue;
      }
      let end = x;
      const xs: string[] = [];
      let chars = '';
      while (end < row.length) {
        const c = row[end];
        if (!c || c.ch === ' ' || c.ch === '' || c.fg !== cell.fg || c.bold !== cell.bold) break;
        if (isDrawn(c.ch)) break;
        xs.push(String(round(PAD + end * CELL_W)));
        chars += c.ch;
        end++;
      }
      const weight = cell.bold ? ' font-weight="bold"' : '';
      texts.push(
        `<text x="${xs.join(' ')}" y="${round(top + CELL_H * 0.74)}" fill="${cell.fg}"${weight}>${escapeXml(chars)}</text>`,
      );
      x = end;
    }
  });

  const paths = [...shapes.entries()].map(([paint, ds]) => {
    const [kind, color] = paint.split(':');
    return kind === 'stroke'
      ? `<path d="${ds.join('')}" stroke="${color}" stroke-width="1.2" fill="none"/>`
      : `<path d="${ds.join('')}" fill="${color}"/>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" rx="8" fill="${BACKGROUND}"/>`,
    `<rect width="${width}" height="${TITLE_H}" rx="8" fill="#161b22"/>`,
    `<rect y="${TITLE_H - 8}" width="${width}" height="8" fill="#161b22"/>`,
    ...['#ff5f57', '#febc2e', '#28c840'].map(
      (fill, i) => `<circle cx="${18 + i * 18}" cy="${TITLE_H / 2}" r="5.5" fill="${fill}"/>`,
    ),
    `<text x="${width / 2}" y="${TITLE_H / 2 + 4.5}" text-anchor="middle" fill="#8b949e" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">${escapeXml(title)}</text>`,
    `<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="${FONT_SIZE}">`,
    ...backgrounds,
    ...paths,
    ...texts,
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}

function isDrawn(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  return ch in BOX || (code >= 0x2800 && code <= 0x28ff) || (code >= 0x2581 && code <= 0x258f);
}

/** Box lines, braille dots and blocks as path data; null for ordinary text. */
function drawGlyph(
  ch: string,
  left: number,
  top: number,
): { kind: 'stroke' | 'fill'; d: string } | null {
  const code = ch.codePointAt(0) ?? 0;
  const box = BOX[ch];
  if (box) {
    const cx = round(left + CELL_W / 2);
    const cy = round(top + CELL_H / 2);
    const [l, r, u, d] = box;
    let path = '';
    if (l) path += `M${round(left)} ${cy}H${cx}`;
    if (r) path += `M${cx} ${cy}H${round(left + CELL_W)}`;
    if (u) path += `M${cx} ${top}V${cy}`;
    if (d) path += `M${cx} ${cy}V${top + CELL_H}`;
    return { kind: 'stroke', d: path };
  }
  if (code >= 0x2800 && code <= 0x28ff) {
    const bits = code - 0x2800;
    const dx = CELL_W / 2;
    const dy = CELL_H / 4;
    let path = '';
    BRAILLE_DOTS.forEach(([col, row], i) => {
      if (!(bits & (1 << i))) return;
      const x = round(left + col * dx + dx / 2 - 1.1);
      const y = round(top + row * dy + dy / 2 - 1.1);
      path += `M${x} ${y}h2.2v2.2h-2.2z`;
    });
    return { kind: 'fill', d: path };
  }
  if (code >= 0x2581 && code <= 0x2588) {
    const h = round((CELL_H * (code - 0x2580)) / 8);
    return {
      kind: 'fill',
      d: `M${round(left)} ${round(top + CELL_H - h)}h${CELL_W}v${h}h-${CELL_W}z`,
    };
  }
  // Left blocks, 7/8 (▉) down to 1/8 (▏) of a cell wide: the ends of the share chart's bars.
  if (code >= 0x2589 && code <= 0x258f) {
    const w = round((CELL_W * (0x2590 - code)) / 8);
    return { kind: 'fill', d: `M${round(left)} ${top}h${w}v${CELL_H}h-${w}z` };
  }
  return null;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}
