// Setup 1: one plain Node process. The floor everything else should beat with N > 1.
import http from 'node:http';
import hello from '../hello.js';
import { announce, BACKLOG, exitWithParent } from './announce.js';

exitWithParent();

const server = http.createServer(hello);
server.listen({ host: '127.0.0.1', port: 0, backlog: BACKLOG }, () => {
  announce(server.address().port, 1);
});
