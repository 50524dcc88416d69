// The hello app as PM2 cluster mode runs it: each instance listens on PORT itself and Node's
// cluster module (PM2's primary, the God daemon) shares the socket, round-robin by default.
const http = require('node:http');

http
  .createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello\n');
  })
  .listen({ host: '127.0.0.1', port: Number(process.env.PORT), backlog: 2048 });
