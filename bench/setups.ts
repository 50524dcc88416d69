// The ways of serving the hello app that are compared, each as the command that starts it.

const here = (path: string) => new URL(path, import.meta.url).pathname;
const node = process.execPath;
/** The wrappers around PM2 and Gunicorn are TypeScript; the servers measured are plain JS. */
const tsx = [node, '--import=tsx'];

export interface Setup {
  name: string;
  describe: string;
  /** The command, for `workers` workers under wrk's `connections` connections. */
  argv: (workers: number | string, connections: number | string) => string[];
}

/** `gsup start bench/hello.js -w N -b 127.0.0.1:0 --no-tui`, its log as typed JSON events. */
export function gsupArgv(workers: number | string): string[] {
  return [
    node,
    here('../bin/gsup.js'),
    'start',
    here('hello.js'),
    '-w',
    String(workers),
    '-b',
    '127.0.0.1:0',
    '--no-tui',
    '--log-format',
    'json',
  ];
}

export const SETUPS: Setup[] = [
  { name: 'single', describe: 'one node process', argv: () => [node, here('servers/single.js')] },
  {
    name: 'cluster',
    describe: 'node cluster, round-robin',
    argv: (n) => [node, here('servers/cluster-rr.js'), String(n)],
  },
  {
    name: 'bare',
    describe: 'shared fd, no supervisor',
    argv: (n) => [node, here('servers/bare.js'), String(n)],
  },
  {
    // bare with the spread of keep-alive connections that gsup's balance makes: each worker keeps
    // at most its share of wrk's connections (bench/servers/bare-worker.js). Against `bare`, what
    // the even spread alone does to throughput; against `gsup`, the request path with the spread
    // held equal (docs/benchmarks.md, section 1).
    name: 'bare-even',
    describe: "bare, each worker keeping at most its share of wrk's keep-alive connections",
    argv: (n, c) => [node, here('servers/bare.js'), String(n), share(n, c)],
  },
  { name: 'gsup', describe: 'gsup start', argv: gsupArgv },
  {
    // Keep-alive balance (on by default) closes a keep-alive connection now and then so that every
    // worker holds its share. `bare` has no such policy: against it, this setup measures gsup's
    // request path alone, and `gsup` the request path plus the balance.
    name: 'gsup-no-balance',
    describe: 'gsup start --no-balance (keep-alive connections stay where the kernel put them)',
    argv: (n) => [...gsupArgv(n), '--no-balance'],
  },
  {
    // gsup's supervisor with bare's worker (no worker runtime: no counts, heartbeats or drains):
    // against bare, the supervisor's cost alone; against gsup, the worker runtime's.
    name: 'gsup-exec-bare',
    describe: "gsup start -k exec running bare's worker (bench/servers/bare-worker.js)",
    argv: (n) => [
      node,
      here('../bin/gsup.js'),
      'start',
      '-k',
      'exec',
      `${node} ${here('servers/bare-worker.js')}`,
      '--ready-pattern',
      'ready',
      '-w',
      String(n),
      '-b',
      '127.0.0.1:0',
      '--no-tui',
      '--log-format',
      'json',
    ],
  },
  {
    // The cost of the access log: every line formatted and written by the workers. To /dev/null,
    // so the figure is gsup's work (formatting, the write calls), not the disk's.
    name: 'gsup-access',
    describe: 'gsup start --access-log /dev/null (the default format)',
    argv: (n) => [...gsupArgv(n), '--access-log', '/dev/null'],
  },
  {
    name: 'pm2',
    describe: 'PM2 cluster mode (bench/pm2/, its own PM2_HOME)',
    argv: (n) => [...tsx, here('servers/pm2.ts'), String(n)],
  },
  {
    name: 'gunicorn',
    describe: "Gunicorn sync workers, trivial WSGI app (Debian's gunicorn)",
    argv: (n) => [...tsx, here('servers/gunicorn.ts'), String(n)],
  },
];

/** Each worker's share of `connections`, rounded up as gsup's balance rounds it. */
function share(workers: number | string, connections: number | string): string {
  return typeof workers === 'number' && typeof connections === 'number'
    ? String(Math.ceil(connections / workers))
    : `ceil(${connections}/${workers})`;
}

/** Why `names` cannot be run, naming the setups there are; null when every name is a setup. */
export function unknownSetups(names: readonly string[]): string | null {
  const unknown = names.filter((n) => !SETUPS.some((s) => s.name === n));
  if (unknown.length === 0) return null;
  return `unknown setup ${unknown.join(', ')} (setups: ${SETUPS.map((s) => s.name)})`;
}
