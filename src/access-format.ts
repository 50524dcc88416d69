// The access log's line format: Gunicorn's `--access-logformat` atoms, or `json`. Compiled once
// into a list of parts, so a worker formats a line with one pass and no parsing. Pure: the config
// check compiles a format to report a bad atom before any worker starts, and the worker runtime
// compiles it again to use it.

/** What a line is made from: one finished request. */
export interface AccessEntry {
  remote: string;
  method: string;
  /** The request target as sent: path and query. */
  url: string;
  /** e.g. `1.1` */
  httpVersion: string;
  status: number;
  /** Body bytes sent, or null when unknown. */
  bytes: number | null;
  /** Request duration in milliseconds (fractional). */
  ms: number;
  /** When the request arrived (epoch ms). */
  startedAt: number;
  pid: number;
  slot: number;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
}

type Part = string | ((e: AccessEntry) => string);

/** Gunicorn's default: the Common Log Format plus referer and user agent. */
export const DEFAULT_ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** The atoms, with what each means (the error for an unknown one lists them). */
const ATOMS: Record<string, (e: AccessEntry) => string> = {
  h: (e) => e.remote || '-',
  l: () => '-',
  u: () => '-',
  t: (e) => clfTime(e.startedAt),
  r: (e) => escapeValue(`${e.method} ${e.url} HTTP/${e.httpVersion}`),
  m: (e) => escapeValue(e.method),
  U: (e) => escapeValue(pathOf(e.url)),
  q: (e) => escapeValue(queryOf(e.url)),
  H: (e) => `HTTP/${e.httpVersion}`,
  s: (e) => String(e.status),
  B: (e) => String(e.bytes ?? 0),
  b: (e) => (e.bytes === null ? '-' : String(e.bytes)),
  f: (e) => escapeValue(e.requestHeader('referer') ?? '-'),
  a: (e) => escapeValue(e.requestHeader('user-agent') ?? '-'),
  T: (e) => String(Math.floor(e.ms / 1000)),
  M: (e) => String(Math.round(e.ms)),
  D: (e) => String(Math.round(e.ms * 1000)),
  L: (e) => (e.ms / 1000).toFixed(6),
  p: (e) => `<${e.pid}>`,
};

const ATOM_LIST = Object.keys(ATOMS).join(' ');

/**
 * Compiles a format into a line formatter, or returns a one-line error naming what is wrong.
 * `json` gives one JSON object per line.
 */
export function compileAccessFormat(format: string): ((e: AccessEntry) => string) | string {
  if (format === 'json') return jsonLine;
  const parts: Part[] = [];
  const re = /%\((\{[^}]*\}[ioe]|[A-Za-z_]+)\)s/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    last = m.index + m[0].length;
    const atom = m[1] ?? '';
    if (atom.startsWith('{')) {
      const name = atom.slice(1, -2).toLowerCase();
      const kind = atom.slice(-1);
      if (!name)
        return `access-logformat: ${m[0]} names no header; write e.g. %({x-forwarded-for}i)s`;
      if (kind === 'i') parts.push((e) => escapeValue(e.requestHeader(name) ?? '-'));
      else if (kind === 'o') parts.push((e) => escapeValue(e.responseHeader(name) ?? '-'));
      else {
        const value = process.env[atom.slice(1, -2)] ?? '-';
        parts.push(escapeValue(value));
      }
      continue;
    }
    const fn = ATOMS[atom];
    if (!fn) {
      return `access-logformat: unknown atom ${m[0]}; the atoms are ${ATOM_LIST}, %({header}i)s, %({header}o)s and %({VAR}e)s, or the format json`;
    }
    parts.push(fn);
  }
  if (last < format.length) parts.push(format.slice(last));
  const stray = parts.find((p) => typeof p === 'string' && /%\(/.test(p));
  if (stray !== undefined) {
    return `access-logformat: cannot read ${JSON.stringify(stray)}: an atom is written %(NAME)s, e.g. %(h)s or %({user-agent}i)s`;
  }
  return (e) => {
    let line = '';
    for (const p of parts) line += typeof p === 'string' ? p : p(e);
    return line;
  };
}

function jsonLine(e: AccessEntry): string {
  return JSON.stringify({
    time: new Date(e.startedAt).toISOString(),
    remote: e.remote || null,
    method: e.method,
    path: pathOf(e.url),
    query: queryOf(e.url) || null,
    protocol: `HTTP/${e.httpVersion}`,
    status: e.status,
    bytes: e.bytes,
    duration_ms: Math.round(e.ms * 1000) / 1000,
    referer: e.requestHeader('referer') ?? null,
    user_agent: e.requestHeader('user-agent') ?? null,
    pid: e.pid,
    slot: e.slot,
  });
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

/**
 * A value as nginx writes it: `"`, `\` and bytes outside printable ASCII as \xHH, so a request
 * cannot forge a log line or break a quoted field.
 */
export function escapeValue(value: string): string {
  // Fast path: nearly every value is plain.
  if (/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** `[01/Dec/2026:18:55:58 +0000]`, in UTC; made once per second. */
export function clfTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== clfSecond) {
    const d = new Date(second * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    clfText = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
    clfSecond = second;
  }
  return clfText;
}
