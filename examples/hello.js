// The smallest app gsup runs: a request listener, the same shape plain `http` and Express use.
export default function hello(_req, res) {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from worker ${process.pid}\n`);
}
