// A child of bare.js: serves the app on the listening socket inherited as fd 3.
import http from 'node:http';
import hello from '../hello.js';
import { BACKLOG, exitWithParent } from './announce.js';

exitWithParent();

http.createServer(hello).listen({ fd: 3, backlog: BACKLOG }, () => {
  process.stdout.write('ready\n');
});
