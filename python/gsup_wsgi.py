"""gsup's WSGI worker: one Python process of a gsup pool (`gsup start -k wsgi mysite.wsgi:application`).

It speaks gsup's worker protocol (docs/worker-protocol.md) with the standard library only:
the listening sockets are fds 3, 4, ... (LISTEN_FDS), the channel to the supervisor is the fd in
NODE_CHANNEL_FD (newline-delimited JSON over a unix socket). A sync worker like Gunicorn's: one
request at a time, every connection closed after its response, the application object created
once at boot and kept for the worker's life. Heartbeats are sent from the request loop, so a
request stuck in Python stops them and the supervisor's timeout fires; SIGINT then makes
faulthandler dump every thread's stack to stderr, which gsup puts into the log and the snapshot.

Signals: TERM drains (finish the request in hand, exit 0), QUIT exits now, INT dumps the stacks.
Python 3.9 or later; keep the syntax plain so an older Python gets to say so.
"""

import faulthandler
import importlib
import json
import math
import os
import select
import signal
import socket
import sys
import time
import traceback
from email.utils import formatdate
from urllib.parse import unquote_to_bytes

# Gunicorn's WORKER_BOOT_ERROR: the app cannot boot; the supervisor tells it from a crash.
WORKER_BOOT_ERROR = 3
# src/histogram.ts: 4 buckets per doubling of latency in microseconds, 140 buckets.
STEPS_PER_DOUBLING = 4
BUCKETS = 140
# Longest request head (request line and headers) accepted.
MAX_HEAD = 64 * 1024
# A client that sends nothing for this long while its request is being read is dropped.
READ_TIMEOUT_S = 10.0
# After the response, an unread request body up to this size is read and dropped before closing:
# closing a socket with unread data sends a reset, which can destroy the response in flight.
MAX_DISCARD = 1024 * 1024
SERVER = "gsup"

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def bucket_of(ms):
    """The histogram bucket of a latency in milliseconds (src/histogram.ts's bucketOf)."""
    us = ms * 1000.0
    if not us >= 1:
        return 0
    i = int(math.floor(math.log2(us) * STEPS_PER_DOUBLING))
    return i if i < BUCKETS else BUCKETS - 1


def one_line(text):
    return " ".join(str(text).split())


class Channel:
    """The supervisor's end: newline-delimited JSON over the unix socket in NODE_CHANNEL_FD."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)

    def send(self, msg):
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the supervisor is gone; the loop notices the channel's end

    def closed(self):
        """Reads what the supervisor sent (it sends nothing today): True at end of file."""
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        return data == b""


def boot_fail(chan, message, where):
    if chan is not None:
        chan.send({"t": "boot-error", "message": one_line(message)[:2000], "where": where})
    else:
        sys.stderr.write("gsup wsgi worker: %s%s\n" % (message, " (at %s)" % where if where else ""))
    sys.stderr.flush()
    os._exit(WORKER_BOOT_ERROR)


def where_in(exc, cwd):
    """file:line of an exception, pointing into the user's code where possible."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return "%s:%s" % (exc.filename, exc.lineno)
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.abspath(__file__)
    mine = [f for f in frames if os.path.abspath(f.filename).startswith(cwd + os.sep)]
    useful = [f for f in frames if not f.filename.startswith("<") and os.path.abspath(f.filename) != here]
    pick = (mine or useful or frames or [None])[-1]
    return "%s:%s" % (pick.filename, pick.lineno) if pick is not None else None


def describe(exc):
    if isinstance(exc, SyntaxError):
        return "SyntaxError: %s" % exc.msg
    return "%s: %s" % (type(exc).__name__, one_line(exc))


def load_app(spec, cwd, chan):
    """Gunicorn's util.import_app: `module.path:variable` (default `application`), `name()` calls it."""
    module, _, var = spec.strip().partition(":")
    var = var or "application"
    call = var.endswith("()")
    name = var[:-2] if call else var
    # As Gunicorn does with its chdir: the project's directory is importable, ahead of PYTHONPATH.
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            boot_fail(
                chan,
                "cannot import %s: no module named %r (looked in %s and PYTHONPATH; use --chdir or set PYTHONPATH)"
                % (module, exc.name, cwd),
                None,
            )
        boot_fail(chan, describe(exc), where_in(exc, cwd))
    except BaseException as exc:  # noqa: B902 - anything the app's import raises is a boot error
        boot_fail(chan, describe(exc), where_in(exc, cwd))
    app = getattr(mod, name, None)
    if app is None:
        boot_fail(chan, "app: module %s has no variable %r (give MODULE:VARIABLE)" % (module, name), mod.__file__)
    if call:
        try:
            app = app()
        except BaseException as exc:  # noqa: B902
            boot_fail(chan, describe(exc), where_in(exc, cwd))
    if not callable(app):
        boot_fail(chan, "app: %s:%s is not callable (a WSGI application is a callable)" % (module, var), mod.__file__)
    return app


class Input:
    """wsgi.input: the request body, read from the buffer and then the socket, never past its end."""

    def __init__(self, conn, buf, length, on_first_read=None):
        self.conn = conn
        self.buf = buf
        self.left = length
        self.on_first_read = on_first_read

    def _fill(self):
        if self.on_first_read is not None:
            self.on_first_read()
            self.on_first_read = None
        if self.left <= 0:
            return False
        data = self.conn.recv(min(65536, self.left))
        if not data:
            self.left = 0
            return False
        self.left -= len(data)
        self.buf += data
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            out, self.buf = self.buf, b""
            return out
        while len(self.buf) < size and self._fill():
            pass
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def readline(self, size=-1):
        while b"\n" not in self.buf and (size is None or size < 0 or len(self.buf) < size) and self._fill():
            pass
        nl = self.buf.find(b"\n")
        end = len(self.buf) if nl < 0 else nl + 1
        if size is not None and size >= 0:
            end = min(end, size)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def unread(self):
        """Bytes of the body still in the socket."""
        return self.left


class BadRequest(Exception):
    pass


def read_chunked(conn, buf):
    """Decodes a chunked body whole; returns (body, bytes after it)."""
    body = []

    def need(n):
        nonlocal buf
        while len(buf) < n:
            data = conn.recv(65536)
            if not data:
                raise BadRequest("chunked body cut short")
            buf += data

    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                raise BadRequest("chunk size line too long")
            data = conn.recv(65536)
            if not data:
                raise BadRequest("chunked body cut short")
            buf += data
        i = buf.index(b"\r\n")
        out, buf = buf[:i], buf[i + 2 :]
        return out

    while True:
        size_line = line().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest("bad chunk size %r" % size_line[:20])
        if size == 0:
            while line():  # trailers, up to the empty line
                pass
            return b"".join(body), buf
        need(size + 2)
        body.append(buf[:size])
        buf = buf[size + 2 :]


class Worker:
    def __init__(self, cfg, chan, app, listeners):
        self.cfg = cfg
        self.chan = chan
        self.app = app
        self.listeners = listeners
        self.requests = 0
        self.busy_ms = 0.0
        self.status = [0, 0, 0, 0, 0]
        self.latency = {}
        self.draining = False
        self.recycle_asked = False
        self.max_requests = int(cfg.get("maxRequests") or 0)
        self.hb_s = max(0.05, float(cfg.get("heartbeatMs") or 1000) / 1000.0)
        self.next_hb = time.monotonic() + self.hb_s
        self.date = (0, "")
        self.base_environ = {
            "SCRIPT_NAME": os.environ.get("SCRIPT_NAME", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    # ---- the protocol ------------------------------------------------------------------------

    def heartbeat(self, now):
        late_ms = max(0.0, (now - self.next_hb) * 1000.0)
        self.next_hb = now + self.hb_s
        latency = sorted(self.latency.items())
        self.latency = {}
        self.chan.send(
            {
                "t": "hb",
                "stats": {
                    "requests": self.requests,
                    "inFlight": 0,
                    "busyMs": int(self.busy_ms),
                    # Heartbeats come between requests, and every connection is closed after its
                    # response: none is open now, and none is ever shed for balance.
                    "conns": 0,
                    "shed": 0,
                    "status": self.status,
                    "latency": [[b, n] for b, n in latency],
                    # How late this heartbeat is: a long request delays it, as a blocked event loop would.
                    "lagMs": {"mean": round(late_ms, 2), "max": round(late_ms, 2)},
                    "rss": rss(),
                    # No V8 heap in Python.
                    "heapUsed": 0,
                },
            }
        )

    def run(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        # A signal wakes the select below (PEP 475 would otherwise resume it until its timeout).
        signal.set_wakeup_fd(wake_w)
        chan_fd = self.chan.sock.fileno()
        watch = [l for l in self.listeners] + [self.chan.sock, wake_r]
        while not self.draining:
            now = time.monotonic()
            if now >= self.next_hb:
                self.heartbeat(now)
            try:
                ready, _, _ = select.select(watch, [], [], max(0.0, self.next_hb - time.monotonic()))
            except InterruptedError:
                continue
            for r in ready:
                if r is wake_r:
                    try:
                        os.read(wake_r, 512)
                    except OSError:
                        pass
                elif getattr(r, "fileno", lambda: -1)() == chan_fd:
                    if self.chan.closed():
                        # Orphaned: the supervisor is gone (even SIGKILLed).
                        os._exit(0)
                else:
                    self.accept_all(r)
                if self.draining:
                    break
        for l in self.listeners:
            try:
                l.close()
            except OSError:
                pass
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def accept_all(self, listener):
        """Serves connections from the queue until it is empty (one select per burst, not per request)."""
        while not self.draining:
            try:
                conn, addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                sys.stderr.write("gsup wsgi worker: accept failed: %s\n" % exc)
                return
            try:
                self.handle(conn, addr)
            finally:
                try:
                    conn.close()
                except OSError:
                    pass
            now = time.monotonic()
            if now >= self.next_hb:
                self.heartbeat(now)

    # ---- one request -------------------------------------------------------------------------

    def http_date(self):
        now = int(time.time())
        if self.date[0] != now:
            self.date = (now, formatdate(now, usegmt=True))
        return self.date[1]

    def handle(self, conn, addr):
        conn.setblocking(True)
        conn.settimeout(READ_TIMEOUT_S)
        started = time.perf_counter()
        code = 0
        try:
            code = self.serve(conn, addr)
        except BadRequest as exc:
            code = self.simple(conn, "400 Bad Request", str(exc))
        except (socket.timeout, ConnectionError):
            code = 0
        except OSError:
            code = 0
        if code == 0:
            return  # nothing was asked (a client that connected and went away)
        ms = (time.perf_counter() - started) * 1000.0
        self.requests += 1
        self.busy_ms += ms
        cls = code // 100 - 1
        if 0 <= cls < 5:
            self.status[cls] += 1
        b = bucket_of(ms)
        self.latency[b] = self.latency.get(b, 0) + 1
        if self.max_requests and self.requests >= self.max_requests and not self.recycle_asked:
            self.recycle_asked = True
            self.chan.send({"t": "recycle", "requests": self.requests})

    def simple(self, conn, status, text):
        body = (text + "\n").encode("utf-8", "replace")
        head = "HTTP/1.1 %s\r\nServer: %s\r\nDate: %s\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (
            status,
            SERVER,
            self.http_date(),
            len(body),
        )
        try:
            conn.sendall(head.encode("latin-1") + body)
        except OSError:
            pass
        return int(status[:3])

    def serve(self, conn, addr):
        buf = b""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > MAX_HEAD:
                raise BadRequest("request head over %d bytes" % MAX_HEAD)
            data = conn.recv(65536)
            if not data:
                if buf:
                    raise BadRequest("request cut short")
                return 0
            buf += data
        head = buf[:end].decode("latin-1")
        rest = buf[end + 4 :]
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise BadRequest("bad request line %r" % lines[0][:80])
        method, target, version = parts
        environ = dict(self.base_environ)
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = target
        environ["SERVER_PROTOCOL"] = version
        chunked = False
        length = None
        expect_continue = False
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest("bad header line %r" % line[:80])
            value = value.strip()
            key = name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                if not value.isdigit():
                    raise BadRequest("bad Content-Length %r" % value[:20])
                length = int(value)
                environ["CONTENT_LENGTH"] = value
                continue
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
                continue
            if key == "TRANSFER_ENCODING" and value.lower() == "chunked":
                chunked = True
            elif key == "EXPECT" and value.lower() == "100-continue":
                expect_continue = True
            hkey = "HTTP_" + key
            if hkey in environ:
                environ[hkey] += "," + value
            else:
                environ[hkey] = value
        host = environ.get("HTTP_HOST", "")
        sockname = conn.getsockname()
        if isinstance(sockname, tuple):
            environ["SERVER_NAME"] = host.rsplit(":", 1)[0] if host else str(sockname[0])
            environ["SERVER_PORT"] = str(sockname[1])
        else:
            environ["SERVER_NAME"] = host or "localhost"
            environ["SERVER_PORT"] = ""
        if isinstance(addr, tuple):
            environ["REMOTE_ADDR"] = str(addr[0])
            environ["REMOTE_PORT"] = str(addr[1])
        else:
            environ["REMOTE_ADDR"] = ""

        def send_continue():
            if expect_continue:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        if chunked:
            send_continue()
            body, _ = read_chunked(conn, rest)
            # Decoded whole, so the length is known: Django reads CONTENT_LENGTH bytes and no more.
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            body_in = Input(conn, body, 0)
        else:
            n = length or 0
            take = rest[:n]
            body_in = Input(conn, take, n - len(take), send_continue if n > len(take) else None)
        environ["wsgi.input"] = body_in

        sent = [False]
        state = {"status": None, "headers": None}

        def start_response(status, headers, exc_info=None):
            if exc_info is not None:
                try:
                    if sent[0]:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["status"] is not None:
                raise AssertionError("start_response called twice without exc_info")
            state["status"] = status
            state["headers"] = headers
            return write

        def head_bytes():
            out = ["HTTP/1.1 %s\r\n" % state["status"]]
            has_date = has_server = False
            for k, v in state["headers"]:
                lk = k.lower()
                if lk in ("connection", "keep-alive", "transfer-encoding"):
                    continue
                if lk == "date":
                    has_date = True
                elif lk == "server":
                    has_server = True
                out.append("%s: %s\r\n" % (k, v))
            if not has_server:
                out.append("Server: %s\r\n" % SERVER)
            if not has_date:
                out.append("Date: %s\r\n" % self.http_date())
            # Every connection is closed after its response, as Gunicorn's sync worker does: an idle
            # keep-alive connection would hold this one-request-at-a-time worker away from the queue.
            out.append("Connection: close\r\n\r\n")
            return "".join(out).encode("latin-1")

        def write(data):
            if state["status"] is None:
                raise AssertionError("write() before start_response")
            if not sent[0]:
                sent[0] = True
                conn.sendall(head_bytes() + (b"" if method == "HEAD" else data))
            elif data and method != "HEAD":
                conn.sendall(data)

        try:
            result = self.app(environ, start_response)
            try:
                if isinstance(result, (list, tuple)):
                    write(b"".join(result)) if state["status"] is not None else None
                else:
                    for chunk in result:
                        if chunk:
                            write(chunk)
                if not sent[0]:
                    write(b"")
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except (ConnectionError, socket.timeout):
            raise
        except Exception:
            traceback.print_exc(file=sys.stderr)
            if sent[0]:
                return 500  # the response is cut; the connection closes
            return self.simple(conn, "500 Internal Server Error", "Internal Server Error")
        code = int(str(state["status"])[:3])
        # A body the app did not read: read (up to a bound) so closing does not reset the response.
        left = body_in.unread()
        if 0 < left <= MAX_DISCARD:
            try:
                while left > 0:
                    data = conn.recv(min(65536, left))
                    if not data:
                        break
                    left -= len(data)
            except OSError:
                pass
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return code


def rss():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def address_of(sock):
    name = sock.getsockname()
    if isinstance(name, tuple):
        host = name[0]
        return "%s:%s" % ("[%s]" % host if ":" in host else host, name[1])
    return name.decode() if isinstance(name, bytes) else str(name)


def main():
    chan_fd = os.environ.pop("NODE_CHANNEL_FD", None)
    os.environ.pop("NODE_CHANNEL_SERIALIZATION_MODE", None)
    raw = os.environ.pop("GSUP_WORKER", None)
    if chan_fd is None or raw is None:
        sys.stderr.write("gsup: this is gsup's WSGI worker; start it with `gsup start -k wsgi MODULE:VARIABLE`\n")
        sys.exit(WORKER_BOOT_ERROR)
    chan = Channel(int(chan_fd))
    # sd_listen_fds(3): the sockets are ours (this pid), from fd 3.
    os.environ["LISTEN_PID"] = str(os.getpid())
    # Drain asked before the app is loaded: nothing to finish, so leave at once.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGQUIT, lambda *_: os._exit(0))
    # SIGINT: every thread's stack to stderr, even while Python spins (the handler is C); no exit.
    faulthandler.register(signal.SIGINT, file=sys.stderr, all_threads=True, chain=False)
    if sys.version_info < (3, 9):
        boot_fail(chan, "python: gsup's wsgi worker needs Python 3.9 or later, got %s (give --python)" % sys.version.split()[0], None)
    cfg = json.loads(raw)
    cwd = os.path.abspath(cfg.get("cwd") or os.getcwd())
    app = load_app(cfg["app"], cwd, chan)
    listeners = []
    try:
        for fd in cfg["fds"]:
            s = socket.socket(fileno=fd)
            s.listen(int(cfg.get("backlog") or 2048))
            s.setblocking(False)
            listeners.append(s)
    except OSError as exc:
        boot_fail(chan, "listen failed: %s" % exc, None)
    worker = Worker(cfg, chan, app, listeners)

    def drain(*_):
        worker.draining = True

    signal.signal(signal.SIGTERM, drain)
    chan.send({"t": "ready", "listening": [address_of(s) for s in listeners]})
    worker.run()


if __name__ == "__main__":
    main()
