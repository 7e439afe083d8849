"""tureen's gunicorn worker: an event loop holds the connections, one dispatcher runs the model.

Why not gunicorn's own workers: a ``sync`` worker reads one request at a time with blocking reads, so one
client that connects and sends nothing (or trickles its headers byte by byte: a slowloris) stalls the
whole worker; ``gthread`` parses with blocking reads in a fixed pool of threads, so a handful of slow
clients exhaust the pool. Here:

* An **I/O thread** runs an asyncio event loop. It accepts connections, parses HTTP/1.1 without blocking
  (``httptools``, the llhttp parser), keeps connections alive, and answers the cheap endpoints (``/ping``,
  ``/ready``, ``/metrics``, metadata) itself, so a liveness probe is answered even while the model is busy.
  Idle and slow clients cost a few hundred bytes each: they never hold anything another client needs.
* The **dispatcher** (the worker's main thread) takes complete requests for the model endpoints off a queue
  and runs them one after the other (or merged into one predict, see :mod:`tureen.serving.batching`). Being
  the main thread, it can interrupt a prediction at its deadline with ``SIGALRM`` (504), after which the next
  request is served normally.

Limits (all from :class:`~tureen.serving.settings.ServingSettings`): a request's head and body must arrive
within ``read_timeout`` seconds of its first byte (else 408 and the connection is closed); an idle
keep-alive connection is closed after ``keepalive`` seconds; the head is at most 64 KiB (431); the body at
most ``max_request_bytes`` (413, before reading it when the length is declared); at most
``max_connections`` connections per worker, beyond which the longest-idle or slowest unfinished
connection makes room. Every error the HTTP layer itself produces (malformed request line or headers, bad
chunked encoding, a body over the limit) is our JSON error shape, and the connection is then closed.

Example:
    >>> ServingSettings().worker_class  # doctest: +SKIP
    'tureen.serving.worker.LoopWorker'
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from typing import Any, Callable

from gunicorn.workers.base import Worker

__all__ = ["LoopWorker", "is_model_request", "MAX_HEAD_BYTES"]

MAX_HEAD_BYTES = 64 * 1024
_MAX_PIPELINED = 16  # requests parsed ahead on one connection before reading from it pauses

_REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 413: "Payload Too Large", 415: "Unsupported Media Type",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
            504: "Gateway Timeout", 505: "HTTP Version Not Supported"}


def is_model_request(method: str, path: str) -> bool:
    """Whether a request runs the model (and so goes to the dispatcher) rather than being answered by the loop.

    Example:
        >>> is_model_request("POST", "/invocations"), is_model_request("GET", "/ping")
        (True, False)
    """
    if method != "POST":
        return False
    return path == "/invocations" or path.startswith("/invocations/") or (
        path.startswith("/v2/models/") and path.endswith("/infer")) or path.startswith("/v2/repository/models/")


class _HttpError(Exception):
    """A request the HTTP layer refuses itself (answered with our JSON error shape, then the connection closes)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()


class Request:
    """One complete HTTP request, as the loop parsed it."""

    __slots__ = ("conn", "environ", "keep_alive", "head", "arrived", "model")

    def __init__(self, conn: "_Connection", environ: dict[str, Any], keep_alive: bool, head: bool,
                 model: bool) -> None:
        self.conn = conn
        self.environ = environ
        self.keep_alive = keep_alive
        self.head = head  # a HEAD request: the answer has no body
        self.arrived = time.monotonic()
        self.model = model


def call_wsgi(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion: (status line, headers, body)."""
    out: list[Any] = [None, None]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        out[0], out[1] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return out[0] or "500 Internal Server Error", out[1] or [], body


class _Connection(asyncio.Protocol):
    """One client connection: parses requests as bytes arrive and writes answers in request order."""

    def __init__(self, server: "_LoopServer") -> None:
        import httptools

        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.pending: deque[Request] = deque()
        self.busy = False  # a request of this connection is being answered
        self.closing = False
        self.paused = False
        self.phase = "idle"  # idle -> reading (a request has begun) -> idle ...
        self.since = time.monotonic()
        # when this connection last became likely to send a model request soon: when it opened, or when a model
        # answer was written to it (a client in a request loop sends the next one at once); 0 after any other
        # answer. The micro-batcher waits for such connections only (see _LoopServer.expected_since).
        self.hot = self.since
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_len = 0
        self.expect_continue = False

    # -- asyncio callbacks ----------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.peer = peer if isinstance(peer, tuple) else ("", 0)
        self.sockname = sock if isinstance(sock, tuple) else ("", 0)
        sock_obj = transport.get_extra_info("socket")
        if sock_obj is not None:
            try:
                sock_obj.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
        self.server.opened(self)

    def connection_lost(self, exc: Any) -> None:
        self.closing = True
        self.pending.clear()
        self.server.closed(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        import httptools

        if self.phase == "idle":
            self.phase = "reading"
            self.since = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            inner = exc.__context__
            if isinstance(inner, _HttpError):
                self.refuse(inner.status, inner.code, inner.message)
            else:
                self.server.log_exception("parsing a request", inner or exc)
                self.refuse(400, "BAD_REQUEST", "Malformed HTTP request")
        except httptools.HttpParserUpgrade:
            self.refuse(400, "BAD_REQUEST", "Protocol upgrades (WebSocket, h2c) are not supported")
        except httptools.HttpParserError as exc:
            self.refuse(400, "BAD_REQUEST", f"Malformed HTTP request: {_parser_message(exc)}")

    # -- httptools callbacks ----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()
        if self.phase == "idle":
            self.phase = "reading"
            self.since = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > MAX_HEAD_BYTES:
            raise _HttpError(431, "BAD_REQUEST", f"The request line and headers are over {MAX_HEAD_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEAD_BYTES:
            raise _HttpError(431, "BAD_REQUEST", f"The request line and headers are over {MAX_HEAD_BYTES} bytes")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        limit = self.server.max_body
        for name, value in self.headers:
            low = name.lower()
            if low == b"content-length":
                try:
                    n = int(value)
                except ValueError:
                    raise _HttpError(400, "BAD_REQUEST", "Invalid Content-Length header") from None
                if n > limit:
                    raise _HttpError(413, "REQUEST_TOO_LARGE",
                                     f"The request body has {n} bytes, over the limit of {limit} bytes "
                                     "(TUREEN_SERVING_MAX_REQUEST_BYTES / --max-request-bytes)")
            elif low == b"expect" and value.lower() == b"100-continue":
                self.expect_continue = True
        if self.expect_continue and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self.body_len += len(chunk)
        if self.body_len > self.server.max_body:
            raise _HttpError(413, "REQUEST_TOO_LARGE",
                             f"The request body is over the limit of {self.server.max_body} bytes "
                             "(TUREEN_SERVING_MAX_REQUEST_BYTES / --max-request-bytes)")
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        import httptools

        parser = self.parser
        method = parser.get_method().decode("latin-1")
        try:
            parsed = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            raise _HttpError(400, "BAD_REQUEST", "Malformed request target") from None
        raw_path = parsed.path or b"/"
        path = _unquote(raw_path).decode("latin-1")
        version = parser.get_http_version()
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        environ = self.server.base_environ.copy()
        environ.update({
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "RAW_URI": self.url.decode("latin-1"),
            "QUERY_STRING": (parsed.query or b"").decode("latin-1"),
            "SERVER_PROTOCOL": f"HTTP/{version}",
            "REMOTE_ADDR": str(self.peer[0]) if self.peer else "",
            "REMOTE_PORT": str(self.peer[1]) if len(self.peer) > 1 else "",
            "wsgi.input": io.BytesIO(body),
        })
        for name, value in self.headers:
            key = name.decode("latin-1").upper().replace("-", "_")
            text = value.decode("latin-1")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                environ[key] = text
                continue
            if key == "TRANSFER_ENCODING":
                continue  # the body is already de-chunked
            key = "HTTP_" + key
            environ[key] = environ[key] + "," + text if key in environ else text
        environ["CONTENT_LENGTH"] = str(len(body)) if body or "CONTENT_LENGTH" in environ else ""
        req = Request(self, environ, parser.should_keep_alive(), method == "HEAD", is_model_request(method, path))
        self._reset()
        self.phase = "idle"
        self.since = time.monotonic()
        self.pending.append(req)
        if len(self.pending) >= _MAX_PIPELINED and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if not self.busy:
            self._next()

    # -- answering ----------------------------------------------------------------------------------------
    def _next(self) -> None:
        if self.closing or not self.pending:
            return
        req = self.pending.popleft()
        if self.paused and len(self.pending) < _MAX_PIPELINED // 2:
            self.paused = False
            self.transport.resume_reading()
        if req.model:
            # queued first, then busy: a batch that looks at this connection in between (from the dispatcher
            # thread) waits for the request it will find queued; busy first would let it close without it,
            # and the request would then wait out the next batch's window. The answer is written by this
            # (the loop) thread, so it cannot come before ``busy`` is set.
            self.server.handle(req)
            self.busy = True
        else:
            self.busy = True  # answered at once, in this thread: respond() clears it
            self.server.handle(req)

    def respond(self, req: Request, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Write one answer (in the loop thread), then start on the next pipelined request."""
        self.busy = False
        if self.closing or self.transport is None or self.transport.is_closing():
            return
        keep = req.keep_alive and self.server.accepting
        lines = [f"HTTP/1.1 {status}\r\n"]
        has_length = False
        for k, v in headers:
            lk = k.lower()
            if lk == "content-length":
                has_length = True
            elif lk == "connection":
                continue
            lines.append(f"{k}: {v}\r\n")
        if not has_length:
            lines.append(f"Content-Length: {len(body)}\r\n")
        if not keep:
            lines.append("Connection: close\r\n")
        elif req.environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        self.transport.write(head if req.head else head + body)
        self.since = time.monotonic()
        self.hot = self.since if req.model else 0.0
        if not keep:
            self.closing = True
            self.transport.close()
            return
        self._next()

    def refuse(self, status: int, code: str, message: str) -> None:
        """Answer an HTTP-layer error with our JSON shape and close the connection."""
        if self.closing or self.transport is None:
            return
        self.closing = True
        self.pending.clear()
        body = error_body(code, message)
        reason = _REASONS.get(status, "Error")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode("latin-1")
        if not self.busy:  # never interleave with an answer still being computed for this connection
            self.transport.write(head + body)
        self.server.count_refused(status)
        self.transport.close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


def _parser_message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _unquote(raw: bytes) -> bytes:
    if b"%" not in raw:
        return raw
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(raw)


class _LoopServer:
    """The I/O side of one worker: listeners, connections, timeouts, and the hand-off to the dispatcher."""

    def __init__(self, worker: "LoopWorker", app: Callable[..., Any], settings: Any) -> None:
        self.worker = worker
        self.app = app
        self.max_body = int(settings.max_request_bytes)
        self.read_timeout = float(settings.read_timeout)
        self.keepalive = float(settings.keepalive)
        self.max_connections = int(settings.max_connections)
        self.loop = asyncio.new_event_loop()
        self.conns: set[_Connection] = set()
        self.servers: list[Any] = []
        self.accepting = True
        self.jobs: "queue.SimpleQueue[Request | None]" = queue.SimpleQueue()
        host, port = "", ""
        self.base_environ: dict[str, Any] = {
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": int(settings.workers) > 1, "wsgi.run_once": False,
            "SCRIPT_NAME": "", "SERVER_NAME": host, "SERVER_PORT": port, "SERVER_SOFTWARE": "tureen",
        }
        self.refused = 0
        self.listeners: list[int] = []
        self.accepting_now = 0
        ext = getattr(app, "extensions", None)
        self.metrics = ext.get("tureen_metrics") if isinstance(ext, dict) else None

    # -- loop thread --------------------------------------------------------------------------------
    def start(self, sockets: list[Any]) -> threading.Thread:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                for s in sockets:
                    sock = getattr(s, "sock", s)
                    sock.setblocking(False)
                    name = sock.getsockname()
                    if isinstance(name, tuple):
                        self.base_environ["SERVER_NAME"] = str(name[0])
                        self.base_environ["SERVER_PORT"] = str(name[1])
                    self._listen(sock)
                self.loop.call_later(1.0, self._sweep)
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                self.loop.run_forever()
            finally:
                self.loop.close()

        thread = threading.Thread(target=main, name="tureen-io", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return thread

    def _listen(self, sock: socket.socket) -> None:
        """Accept connections by hand rather than with ``create_server``: asyncio would accept a whole burst at
        once, so that one worker of several holds every keep-alive connection while the others idle. Here a
        worker holding more connections than the least loaded other worker lets that one take the next."""
        fd = sock.fileno()
        loop = self.loop

        def on_ready() -> None:
            if not self.accepting:
                return
            for _ in range(8):
                if not self._may_accept():
                    loop.remove_reader(fd)
                    loop.call_later(0.002, resume)
                    return
                try:
                    client, _addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:  # e.g. out of file descriptors: back off instead of spinning
                    self.worker.log.warning("tureen: accept failed: %s", exc)
                    loop.remove_reader(fd)
                    loop.call_later(0.1, resume)
                    return
                client.setblocking(False)
                self.accepting_now += 1
                loop.create_task(self._connect(client))

        def resume() -> None:
            if self.accepting and not loop.is_closed():
                loop.add_reader(fd, on_ready)

        self.listeners.append(fd)
        loop.add_reader(fd, on_ready)

    async def _connect(self, client: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: _Connection(self), client)
        except OSError:
            client.close()
        finally:
            self.accepting_now -= 1

    def _may_accept(self) -> bool:
        metrics = self.metrics
        if metrics is None:
            return True
        fewest = metrics.fewest_elsewhere(time.monotonic())
        return fewest is None or len(self.conns) + self.accepting_now <= fewest

    def publish(self) -> None:
        if self.metrics is not None:
            self.metrics.set_connections(len(self.conns))
            self.metrics.heartbeat(time.monotonic())

    def opened(self, conn: _Connection) -> None:
        if len(self.conns) >= self.max_connections:
            victim = self._victim()
            if victim is None:
                conn.refuse(503, "TEMPORARILY_UNAVAILABLE",
                            f"The server holds {self.max_connections} connections (TUREEN_SERVING_MAX_CONNECTIONS)")
                return
            victim.abort()
            self.conns.discard(victim)
        self.conns.add(conn)
        if self.metrics is not None:
            self.metrics.set_connections(len(self.conns))

    def _victim(self) -> _Connection | None:
        """The connection to drop when full: the longest idle one, else the slowest unfinished request."""
        idle = [c for c in self.conns if not c.busy and not c.pending and c.phase == "idle"]
        if idle:
            return min(idle, key=lambda c: c.since)
        reading = [c for c in self.conns if not c.busy and not c.pending]
        return min(reading, key=lambda c: c.since) if reading else None

    def expected_since(self, cutoff: float) -> float:
        """For the micro-batcher (from the dispatcher thread): the latest moment, at or after ``cutoff``, at
        which a connection without a request in flight became likely to send one (it opened, was answered a
        model request, or began sending a request), or 0.0 when no connection did. A connection with a request
        queued or being answered cannot send another one, so a batch holding every such request waits for
        nothing; one answered long ago (an idle keep-alive connection) or whose request has been trickling in
        since before ``cutoff`` (a slow client) is not waited for either."""
        latest = 0.0
        for c in list(self.conns):  # a copy: the loop thread adds and removes connections meanwhile
            if c.busy or c.closing:
                continue
            t = c.hot if c.phase == "idle" else c.since
            if t >= cutoff and t > latest:
                latest = t
        return latest

    def closed(self, conn: _Connection) -> None:
        self.conns.discard(conn)
        if self.metrics is not None:
            self.metrics.set_connections(len(self.conns))

    def count_refused(self, status: int) -> None:
        self.refused += 1

    def log_exception(self, what: str, exc: BaseException) -> None:
        self.worker.log.error("tureen: error %s: %s", what,
                              "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))

    def _sweep(self) -> None:
        """Once a second: close idle keep-alive connections and requests that take too long to arrive."""
        now = time.monotonic()
        for conn in list(self.conns):
            if conn.busy or conn.pending or conn.closing:
                continue
            if conn.phase == "idle":
                if now - conn.since > self.keepalive:
                    conn.abort()
            elif now - conn.since > self.read_timeout:
                conn.refuse(408, "REQUEST_TIMEOUT",
                            f"The request did not arrive within {self.read_timeout:g} s "
                            "(TUREEN_SERVING_READ_TIMEOUT)")
        if not self.loop.is_closed():
            self.loop.call_later(1.0, self._sweep)

    def handle(self, req: Request) -> None:
        """In the loop thread: model requests go to the dispatcher, everything else is answered here."""
        if req.model:
            self.jobs.put(req)
            return
        try:
            status, headers, body = call_wsgi(self.app, req.environ)
        except Exception as exc:  # noqa: BLE001 - never a stack trace to the client
            self.log_exception("answering a request", exc)
            status, headers = "500 Internal Server Error", [("Content-Type", "application/json")]
            body = error_body("INTERNAL_ERROR", f"Internal server error: {type(exc).__name__}")
        req.conn.respond(req, status, headers, body)

    def answer(self, req: Request, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """From the dispatcher thread: hand an answer back to the loop."""
        try:
            self.loop.call_soon_threadsafe(req.conn.respond, req, status, headers, body)
        except RuntimeError:  # the loop is already closed (shutting down)
            pass

    def answer_many(self, answers: list[tuple[Request, str, list[tuple[str, str]], bytes]]) -> None:
        """From the dispatcher thread: hand a batch's answers back to the loop in one wake-up."""
        def respond_all() -> None:
            for req, status, headers, body in answers:
                req.conn.respond(req, status, headers, body)

        try:
            self.loop.call_soon_threadsafe(respond_all)
        except RuntimeError:  # the loop is already closed (shutting down)
            pass

    # -- shutdown -------------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        def stop() -> None:
            self.accepting = False
            for fd in self.listeners:
                self.loop.remove_reader(fd)
            for conn in list(self.conns):  # idle keep-alive connections go now; busy ones after answering
                if not conn.busy and not conn.pending and conn.phase == "idle":
                    conn.abort()

        self.loop.call_soon_threadsafe(stop)

    def busy(self) -> bool:
        return any(c.busy or c.pending for c in list(self.conns))

    def stop(self, thread: threading.Thread, grace: float = 2.0) -> None:
        async def drain() -> None:
            deadline = time.monotonic() + grace
            for conn in list(self.conns):
                conn.abort()  # close() flushes what is buffered first
            while any(c.transport is not None and c.transport.get_write_buffer_size() for c in self.conns) \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self.loop.stop()

        try:
            asyncio.run_coroutine_threadsafe(drain(), self.loop)
        except RuntimeError:
            return
        thread.join(timeout=grace + 1)


class LoopWorker(Worker):
    """The gunicorn worker class behind ``tureen serve`` (``worker = "loop"``, the default)."""

    def run(self) -> None:
        from tureen.serving.app import dispatcher_for
        from tureen.serving.settings import ServingSettings

        state = None
        ext = getattr(self.wsgi, "extensions", None)
        if isinstance(ext, dict):
            state = ext.get("tureen")
        settings = getattr(state, "settings", None) or ServingSettings.from_env()
        if hasattr(signal, "set_wakeup_fd"):
            signal.set_wakeup_fd(-1)  # nobody reads gunicorn's wake-up pipe in this worker
        server = _LoopServer(self, self.wsgi, settings)
        thread = server.start(self.sockets)
        dispatch = dispatcher_for(self.wsgi, server)
        last_notify = 0.0
        try:
            while self.alive:
                now = time.monotonic()
                if now - last_notify > 0.5:
                    self.notify()
                    server.publish()
                    last_notify = now
                    if self.ppid != os.getppid():
                        self.log.info("tureen: the master is gone; this worker stops")
                        break
                    if not thread.is_alive():
                        self.log.error("tureen: the I/O thread stopped; this worker stops")
                        break
                try:
                    req = server.jobs.get(timeout=0.5)
                except queue.Empty:
                    continue
                if req is None:
                    continue
                dispatch(req)
            # graceful stop: finish what was received, answer it, then close
            server.stop_accepting()
            deadline = time.monotonic() + float(self.cfg.graceful_timeout)
            while time.monotonic() < deadline:
                try:
                    req = server.jobs.get(timeout=0.05)
                except queue.Empty:
                    if not server.busy():
                        break
                    continue
                if req is not None:
                    dispatch(req)
                self.notify()
        finally:
            server.stop(thread)
