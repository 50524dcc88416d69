// The hello app, plus /spin, which blocks the worker's event loop for good: how fast does the
// supervisor notice, name the stuck code and replace the worker?
export default function app(req, res) {
  if (req.url === '/spin') spinForever();
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello\n');
}

function spinForever() {
  for (;;) {
    // never yields
  }
}
