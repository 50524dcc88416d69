// The ways of serving the hello app that are compared, each as the command that starts it.

const here = (path) => new URL(path, import.meta.url).pathname;
const node = process.execPath;

export const SETUPS = [
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
    name: 'gsup',
    describe: 'gsup start',
    argv: (n) => [
      node,
      here('../bin/gsup.js'),
      'start',
      here('hello.js'),
      '-w',
      String(n),
      '-b',
      '127.0.0.1:0',
      '--no-tui',
    ],
  },
  {
    name: 'pm2',
    describe: 'PM2 cluster mode (bench/pm2/, its own PM2_HOME)',
    argv: (n) => [node, here('servers/pm2.js'), String(n)],
  },
  {
    name: 'gunicorn',
    describe: "Gunicorn sync workers, trivial WSGI app (Debian's gunicorn)",
    argv: (n) => [node, here('servers/gunicorn.js'), String(n)],
  },
];
