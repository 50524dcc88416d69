// A free loopback TCP port for the demo: bound, read and released, so `gsup demo` can tell its
// load generator the address before the pool binds it.

import net from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1. Another process could take it before gsup binds it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))));
    });
  });
}
