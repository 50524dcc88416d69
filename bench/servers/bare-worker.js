// A child of bare.js: serves the app on the listening socket inherited as fd 3. Also run by gsup
// as an exec worker (the `gsup-exec-bare` setup), where gsup, not a stdin pipe, ends it with its
// supervisor: gsup sets LISTEN_FDS, as systemd does.
import http from 'node:http';
import hello from '../hello.js';
import { BACKLOG, exitWithParent } from './announce.js';

if (!process.env.LISTEN_FDS) exitWithParent();

http.createServer(hello).listen({ fd: 3, backlog: BACKLOG }, () => {
  process.stdout.write('ready\n');
});
