// Setup 2: Node's cluster module with round-robin scheduling (its default on Linux, set here
// explicitly): the primary accepts every connection and hands the socket to a worker over IPC.
// Usage: node cluster-rr.js N
import cluster from 'node:cluster';
import http from 'node:http';
import hello from '../hello.js';
import { announce, BACKLOG, exitWithParent } from './announce.js';

cluster.schedulingPolicy = cluster.SCHED_RR;

if (cluster.isPrimary) {
  // Workers need no guard of their own: they exit when the primary's IPC channel closes.
  exitWithParent();
  const workers = Number(process.argv[2]);
  let listening = 0;
  // Every worker asks for 127.0.0.1:0; the primary owns one shared socket, so all get one port.
  cluster.on('listening', (_worker, address) => {
    listening++;
    if (listening === workers) announce(address.port, workers);
  });
  // No supervision on purpose: a dead worker means a broken run, so stop loudly.
  cluster.on('exit', (worker, code, signal) => {
    console.error(`cluster worker ${worker.process.pid} died (${signal ?? code})`);
    process.exit(1);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  http.createServer(hello).listen({ host: '127.0.0.1', port: 0, backlog: BACKLOG });
}
