// An ephemeral port for servers that cannot report the one they got (PM2, Gunicorn): bind :0,
// read the port, close. Another process could take it in between; the wrappers then fail loudly.
import net from 'node:net';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
