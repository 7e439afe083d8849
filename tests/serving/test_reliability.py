"""Reliability under load (loopback only, bounded in time): 64 connections for 30 s, and kill -9 of a worker.

Load comes from wrk (apt package ``wrk``); every request is a valid 1-row scoring request.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from _serving_support import wrk_path
from tureen.serving.testing import serve_in_background

pytestmark = pytest.mark.slow

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""


def _wrk(url: str, body: dict, tmp_path, *, connections: int, seconds: int) -> dict:
    script = tmp_path / f"post-{connections}.lua"
    script.write_text(LUA % json.dumps(body))
    out = subprocess.run([wrk_path(), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "20s", "-s",
                          str(script), f"{url}/invocations"], capture_output=True, text=True,
                         timeout=seconds + 60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    total = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(int(g) for g in sock.groups()) if sock else 0
    return {"total": total, "non2xx": non2xx, "socket_errors": errors, "text": text}


def _one_row(saved_sklearn) -> dict:
    body = json.loads((saved_sklearn / "serving_input_example.json").read_text())
    body["dataframe_split"]["data"] = body["dataframe_split"]["data"][:1]
    return body


def _metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=30).text
    return float(next(l.split()[-1] for l in text.splitlines() if l.startswith(name + " ")))


def _established_connections(pid: int, port: int) -> int:
    """Client connections to ``port`` that process ``pid`` holds open (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port and parts[9] in inodes:
                count += 1
    return count


def test_64_connections_for_30_seconds(saved_sklearn, tmp_path):
    with serve_in_background(saved_sklearn, workers=2) as server:
        workers_before = sorted(server.worker_pids())
        result = _wrk(server.url, _one_row(saved_sklearn), tmp_path, connections=64, seconds=30)
        assert result["total"] > 500, result["text"]
        assert result["non2xx"] == 0, result["text"]
        assert result["socket_errors"] == 0, result["text"]
        assert sorted(server.worker_pids()) == workers_before  # no worker restarted
        assert _metric(server.url, "tureen_worker_starts_total") == 2
        assert "Traceback" not in server.logs()


def test_kill_9_of_one_worker_under_load(saved_sklearn, tmp_path):
    with serve_in_background(saved_sklearn, workers=2) as server:
        victim = server.worker_pids()[0]
        outcome: dict = {}
        load = threading.Thread(target=lambda: outcome.update(
            _wrk(server.url, _one_row(saved_sklearn), tmp_path, connections=16, seconds=10)))
        load.start()
        time.sleep(3)
        held = _established_connections(victim, int(server.url.rsplit(":", 1)[1]))
        os.kill(victim, signal.SIGKILL)
        load.join(timeout=120)
        # only requests in flight on the killed worker may fail: the loop worker keeps connections alive, so that
        # is at most one request per connection it held (wrk has one request outstanding per connection)
        failed = outcome["non2xx"] + outcome["socket_errors"]
        assert failed <= max(2, held), (held, outcome["text"])
        assert outcome["total"] > 100, outcome["text"]
        deadline = time.monotonic() + 60
        while len(server.worker_pids()) < 2 or victim in server.worker_pids():
            assert time.monotonic() < deadline, "the master did not replace the killed worker"
            time.sleep(0.2)
        assert requests.get(f"{server.url}/ready", timeout=30).status_code == 200
        r = requests.post(f"{server.url}/invocations", json=_one_row(saved_sklearn), timeout=30)
        assert r.status_code == 200
        assert _metric(server.url, "tureen_worker_starts_total") == 3
