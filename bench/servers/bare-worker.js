// A child of bare.js: serves the app on the listening socket inherited as fd 3. Also run by gsup
// as an exec worker (the `gsup-exec-bare` setup), where gsup, not a stdin pipe, ends it with its
// supervisor: gsup sets LISTEN_FDS, as systemd does.
import http from 'node:http';
import hello from '../hello.js';
import { BACKLOG, exitWithParent } from './announce.js';

if (!process.env.LISTEN_FDS) exitWithParent();

// BARE_SHARE (the `bare-even` setup): the most keep-alive connections this worker keeps.
const share = Number(process.env.BARE_SHARE ?? 0);
const server = http.createServer(share > 0 ? evened(hello, share) : hello);
server.listen({ fd: 3, backlog: BACKLOG }, () => {
  process.stdout.write('ready\n');
});

/**
 * The app, answering `Connection: close` on one keep-alive connection per response while this
 * worker holds more than `share` connections not already closing: the client reconnects, and the
 * kernel lands the connection on some worker, until each holds its share. It is what gsup's
 * keep-alive balance does, with the share fixed instead of told by a supervisor, so that bare can
 * be measured with the spread of connections gsup makes. The count is net.Server's own, as in
 * gsup's worker.
 */
function evened(app, share) {
  const closing = new WeakSet();
  let pending = 0;
  const closed = () => pending--;
  return (req, res) => {
    const socket = req.socket;
    if (res.shouldKeepAlive && server._connections - pending > share && !closing.has(socket)) {
      closing.add(socket);
      pending++;
      socket.once('close', closed);
      res.setHeader('Connection', 'close');
    }
    app(req, res);
  };
}
