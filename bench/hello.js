// The app every setup serves: as trivial as possible, so the benchmark measures how connections
// reach the workers and not the app. Same shape gsup loads: a default-exported request listener.
export default function hello(_req, res) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello\n');
}
