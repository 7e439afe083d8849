"""The MLflow peer's fork server (tests/_peer_forkserver.py): each snippet must behave as in a fresh process,
because the interop tests compare with what MLflow does in one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _mlflow_peer  # noqa: E402

pytestmark = pytest.mark.mlflow


def test_snippets_do_not_see_each_others_state(mlflow_run, tmp_path, monkeypatch):
    first = mlflow_run("import os, sys, json, mlflow\n"
                       "os.environ['LEFT_BEHIND'] = '1'\n"
                       "mlflow.set_tracking_uri('sqlite:///' + sys.argv[1] + '/a.db')\n"
                       "sys.modules['left_behind'] = sys\n"
                       "print(json.dumps([sys.argv[1:], os.getcwd(), mlflow.get_tracking_uri()]))",
                       str(tmp_path), "x y", cwd=str(tmp_path))
    assert first == [[str(tmp_path), "x y"], str(tmp_path), f"sqlite:///{tmp_path}/a.db"]
    monkeypatch.setenv("SEEN_BY_THE_NEXT", "yes")
    second = mlflow_run("import os, sys, json, mlflow\n"
                        "print(json.dumps([os.environ.get('LEFT_BEHIND'), os.environ.get('SEEN_BY_THE_NEXT'),\n"
                        "                  'left_behind' in sys.modules, mlflow.get_tracking_uri(), sys.path[0]]))")
    # the environment is the caller's at the call, MLflow's globals are fresh, the path starts as -c's does
    assert second[:3] == [None, "yes", False]
    assert "a.db" not in second[3]
    assert second[4] == ""


def test_a_script_runs_as_python_would_run_it_and_ends_its_run(tmp_path):
    (tmp_path / "helper_mod.py").write_text("VALUE = 41\n")
    script = tmp_path / "script.py"
    script.write_text("import json, sys, mlflow, helper_mod\n"
                      "mlflow.set_tracking_uri('sqlite:///' + sys.argv[1])\n"
                      "run = mlflow.start_run()\n"  # never ended: MLflow's exit hook ends it, as at a real exit
                      "print(json.dumps([__file__, helper_mod.VALUE + 1, run.info.run_id]))\n")
    db = tmp_path / "m.db"
    rc, out, err = _mlflow_peer.run_script(script, str(db), cwd=tmp_path)
    assert rc == 0, err
    file, value, run_id = json.loads(out.splitlines()[-1])
    assert (file, value) == (str(script), 42)
    status = _mlflow_peer.run("import json, sys, mlflow\n"
                              "c = mlflow.MlflowClient('sqlite:///' + sys.argv[1])\n"
                              "print(json.dumps(c.get_run(sys.argv[2]).info.status))", str(db), run_id)
    assert status == "FINISHED"


def test_failures_exit_codes_and_timeouts_are_reported(mlflow_run):
    with pytest.raises(AssertionError, match="ValueError: boom"):
        mlflow_run("raise ValueError('boom')")
    with pytest.raises(AssertionError, match="exit 3"):
        mlflow_run("import sys; sys.exit(3)")
    with pytest.raises(subprocess.TimeoutExpired):
        _mlflow_peer.run("import time; time.sleep(60)", timeout=2)
    assert mlflow_run("import json; print(json.dumps('still serving'))") == "still serving"


def test_a_server_started_through_it_answers_and_its_whole_group_stops(tmp_path):
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TUREEN_", "PYTHONPATH"))}
    proc = _mlflow_peer.start_mlflow_cli(["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'm.db'}",
                                          "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                                         cwd=tmp_path, env=env, log=tmp_path / "log")
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as res:
                assert res.read().decode() == "3.17.2"
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "log").read_text()[-3000:]
            time.sleep(0.1)

    def group() -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if stat[0] != "Z" and int(stat[2]) == proc.pid:
                out.append(int(entry))
        return out

    assert proc.pid in group()  # it leads its process group, as a start_new_session process does
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while group() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group() == [], "a process of the server's group outlived SIGTERM"
