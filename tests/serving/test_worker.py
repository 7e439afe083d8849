"""The loop worker under hostile and sloppy clients (issue 12 class 7, issue 13 part 2), over real loopback sockets.

One server with default settings (except a 2 s prediction timeout) is shared by the module; one more with
tight limits checks the 408 / idle-close / connection-cap behaviour.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from _serving_support import post_json
from tureen.serving.testing import serve_in_background

SPLIT = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 0.5, "x"], [2, 1.5, "y"]]}}
BODY = json.dumps(SPLIT).encode()


@pytest.fixture(scope="module")
def server(shapes_model):
    with serve_in_background(shapes_model, timeout=2) as s:
        yield s


@pytest.fixture(scope="module")
def tight(shapes_model):
    with serve_in_background(shapes_model, timeout=2, read_timeout=1.5, keepalive=1, max_connections=12) as s:
        yield s


def _addr(url: str) -> tuple[str, int]:
    host, port = url.rsplit("//", 1)[1].split(":")
    return host, int(port)


def _connect(url: str) -> socket.socket:
    s = socket.create_connection(_addr(url), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _BUFFERS.pop(s.fileno(), None)  # a new socket may reuse a closed one's number
    return s


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body (what our server always sends); bytes past it stay
    buffered for the next call on the same socket."""
    buf = _BUFFERS.pop(sock.fileno(), b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response: {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if rest[n:]:
        _BUFFERS[sock.fileno()] = rest[n:]
    return status, headers, rest[:n]


_BUFFERS: dict[int, bytes] = {}


def _raw(url: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    with _connect(url) as s:
        s.sendall(payload)
        return _read_response(s)


def _timed_ping(url: str) -> float:
    start = time.monotonic()
    r = post_json(f"{url}/invocations", SPLIT, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": [2, 4]}
    return time.monotonic() - start


def test_twenty_idle_connections_for_ten_seconds_delay_nobody(server):
    idle = [_connect(server.url) for _ in range(20)]
    try:
        worst = 0.0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            worst = max(worst, _timed_ping(server.url))
            time.sleep(0.25)
        assert worst < 1.0, worst
    finally:
        for s in idle:
            s.close()


def _trickle(url: str, payload: bytes, stop: threading.Event, every: float = 0.1) -> None:
    try:
        with _connect(url) as s:
            for i in range(len(payload)):
                if stop.is_set():
                    return
                s.sendall(payload[i:i + 1])
                time.sleep(every)
    except OSError:
        pass  # the server may close a request that takes too long to arrive


@pytest.mark.parametrize("part", ["headers", "body"])
def test_slowloris_never_keeps_others_waiting(server, part):
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(BODY))
    stop = threading.Event()
    if part == "headers":
        threads = [threading.Thread(target=_trickle, args=(server.url, head + BODY, stop)) for _ in range(30)]
    else:
        def body_trickler() -> None:
            try:
                with _connect(server.url) as s:
                    s.sendall(head)
                    for i in range(len(BODY)):
                        if stop.is_set():
                            return
                        s.sendall(BODY[i:i + 1])
                        time.sleep(0.1)
            except OSError:
                pass
        threads = [threading.Thread(target=body_trickler) for _ in range(30)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        worst = max(_timed_ping(server.url) for _ in range(15))
        assert worst < 1.0, worst
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)


def test_a_timed_out_prediction_answers_504_and_later_requests_are_fine(server):
    results: dict[str, requests.Response] = {}

    def slow() -> None:
        results["slow"] = post_json(f"{server.url}/invocations", {**SPLIT, "params": {"sleep": 5}})

    idle = _in_flight(server.url)  # the gauge as /metrics itself sees it with nothing else running
    t = threading.Thread(target=slow)
    t.start()
    deadline = time.monotonic() + 10
    while _in_flight(server.url) <= idle:  # the slow prediction is in the model (holding the dispatcher)
        assert time.monotonic() < deadline, "the slow request never reached the model"
        time.sleep(0.02)
    # answered by the loop while the model is still busy: before the slow request's own answer (its 504 comes
    # at the 2 s timeout, its sleep lasts 5 s), however loaded the machine is
    assert requests.get(f"{server.url}/ping", timeout=10).status_code == 200
    assert t.is_alive() and "slow" not in results and _in_flight(server.url) > idle
    queued = post_json(f"{server.url}/invocations", SPLIT)  # waits behind the slow one, then is served
    t.join(timeout=30)
    assert results["slow"].status_code == 504 and results["slow"].json()["error_code"] == "DEADLINE_EXCEEDED"
    assert queued.status_code == 200 and queued.json() == {"predictions": [2, 4]}
    for _ in range(5):
        assert _timed_ping(server.url) < 1.0


def _in_flight(url: str) -> int:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("tureen_requests_in_flight ")))


@pytest.mark.parametrize("body", [
    b"zz\r\n{}\r\n0\r\n\r\n",                      # chunk size is not hex
    b"2\r\n{}}}}\r\n0\r\n\r\n",                    # more data than the chunk size says
    b"-2\r\n{}\r\n0\r\n\r\n",                      # negative size
    b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",  # absurd size
    b"2;\x00\r\n{}\r\n0\r\n\r\n",                  # garbage chunk extension
])
def test_malformed_chunked_bodies_get_400_in_our_json_shape(server, body):
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    status, headers, payload = _raw(server.url, head + body)
    assert status == 400, payload
    doc = json.loads(payload)
    assert doc["error_code"] == "BAD_REQUEST" and doc["message"]
    assert headers["content-type"] == "application/json" and headers.get("connection") == "close"
    assert _timed_ping(server.url) < 1.0


@pytest.mark.parametrize("payload,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /ping HTTP/9.9\r\n\r\n", 400),
    (b"GET /ping HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"GET /ping HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\r\n0\r\n\r\n",
     400),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 431),
    (b"GET /ping HTTP/1.1\r\n" + b"X-Big: " + b"b" * 70000 + b"\r\n\r\n", 431),
    (b"POST /invocations HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 413),
    (b"GET /ping HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400),
])
def test_http_layer_errors_are_json_without_server_details(server, payload, status):
    got, headers, body = _raw(server.url, payload)
    assert got == status, body
    doc = json.loads(body)
    assert set(doc) == {"error_code", "message"} and doc["message"]
    text = body.decode().lower() + json.dumps(headers).lower()
    assert "<html" not in text and "gunicorn" not in text and "traceback" not in text


def test_keep_alive_and_pipelining_answer_in_order(server):
    with requests.Session() as s:
        for _ in range(20):
            r = s.post(f"{server.url}/invocations", data=BODY, headers={"Content-Type": "application/json"})
            assert r.status_code == 200
    with _connect(server.url) as sock:
        one = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(BODY)) + BODY
        sock.sendall(one + b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" + one)
        answers = [_read_response(sock) for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 200]
    assert json.loads(answers[0][2]) == {"predictions": [2, 4]} and answers[1][2] == b"\n"
    assert json.loads(answers[2][2]) == {"predictions": [2, 4]}


def test_expect_100_continue_and_head(server):
    with _connect(server.url) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(BODY))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(BODY)
        status, _, body = _read_response(sock)
        assert status == 200 and json.loads(body) == {"predictions": [2, 4]}, body
        sock.sendall(b"HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(2)
        data = sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n")  # no body after the head


def test_limits_408_idle_close_and_connection_cap(tight):
    # a request that does not arrive within read_timeout: 408 in our shape, connection closed
    with _connect(tight.url) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        start = time.monotonic()
        status, _, body = _read_response(s)
        assert status == 408 and json.loads(body)["error_code"] == "REQUEST_TIMEOUT"
        assert 1.0 < time.monotonic() - start < 5
    # an idle keep-alive connection is closed after keepalive seconds
    with _connect(tight.url) as s:
        s.settimeout(5)
        start = time.monotonic()
        assert s.recv(10) == b""
        assert time.monotonic() - start < 4
    # more connections than the cap: the oldest idle ones make room, new clients are still answered
    held = [_connect(tight.url) for _ in range(30)]
    try:
        assert _timed_ping(tight.url) < 1.0
    finally:
        for s in held:
            s.close()
