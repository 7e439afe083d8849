"""Class 10 of issue 12: a crash leaves nothing behind for ever.

Real processes are killed with SIGKILL in the middle of a save and of a ``log_model``; the next save into the
same parent sweeps the dead process's temp directory (and nothing else), and ``tureen runs`` reports the run
the killed process left RUNNING, with a command that marks it failed.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tureen.pyfunc
from tureen._tmp import _host_id

ROOT = Path(__file__).resolve().parents[2]

_SLOW_MODEL = """
import sys, time
import tureen.pyfunc

class Slow(tureen.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        print("BLOCKED", flush=True)
        time.sleep(120)  # killed here, in the middle of the save (signature inference)
        return model_input
"""


def _start(code: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(_SLOW_MODEL) + textwrap.dedent(code)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, word: str) -> list[str]:
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the process ended early: {proc.stderr.read()[-2000:]}")
        lines.append(line.strip())
        if line.strip() == word:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return lines


class _Echo(tureen.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return model_input


def test_temp_dir_of_a_killed_save_is_swept_by_the_next_save(tmp_path: Path) -> None:
    parent = tmp_path / "models"
    proc = _start(f"tureen.pyfunc.save_model({str(parent / 'm1')!r}, python_model=Slow(), input_example=[1])",
                  tmp_path)
    _kill_when(proc, "BLOCKED")
    leftovers = [p.name for p in parent.iterdir()]
    assert len(leftovers) == 1 and ".m1.tureen-tmp-" in leftovers[0] and not (parent / "m1").exists()
    # things the sweep must leave alone: a live process's save, another host's, not ours at all
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [parent / f".m3.tureen-tmp-{_host_id()}-{sleeper.pid}-abc123",
                parent / ".m4.tureen-tmp-0badf00d-1-abc123",
                parent / f".m5.tureen-tmp-{_host_id()}-{proc.pid}-x",  # a file, not a directory
                parent / ".unrelated-dot-dir"]
        for p in keep[:2] + keep[3:]:
            p.mkdir()
        keep[2].write_text("not a temp dir")
        tureen.pyfunc.save_model(parent / "m2", python_model=_Echo())
        assert sorted(p.name for p in parent.iterdir()) == sorted(["m2", *(p.name for p in keep)])
        assert tureen.pyfunc.load_model(str(parent / "m2")).predict([3]) == [3]
    finally:
        sleeper.kill()
        sleeper.wait()


def _cli(*argv: str) -> tuple[int, str]:
    from tureen.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
    return int(exc.value.code), out.getvalue()


def test_run_left_running_by_a_killed_log_model_is_reported_and_can_be_failed(tmp_path: Path,
                                                                               monkeypatch) -> None:
    import tempfile

    from tureen.tracking import fluent
    from tureen.tracking.client import TrackingClient

    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    proc = _start(f"""
        from tureen.tracking import fluent
        fluent.set_tracking_uri({uri!r})
        with fluent.start_run() as run:
            print(run.info.run_id, flush=True)
            tureen.pyfunc.log_model(name="m", python_model=Slow(), input_example=[1])
    """, tmp_path)
    lines = _kill_when(proc, "BLOCKED")
    killed_run = lines[0]
    assert [p for p in (tmp_path / "tmp").iterdir() if ".log-model.tureen-tmp-" in p.name]

    monkeypatch.setenv("TUREEN_TRACKING_URI", uri)
    fluent.set_tracking_uri(uri)
    client = TrackingClient()
    assert client.get_run(killed_run).info.status == "RUNNING"
    with fluent.start_run() as alive:  # a run of a live process is RUNNING, but not orphaned
        code, text = _cli("runs", "list")
        assert code == 0
        assert f"{killed_run}" in text and "RUNNING (orphaned)" in text
        assert text.count("orphaned)") == 1
        assert "tureen runs mark-failed --orphaned" in text
        code, text = _cli("runs", "describe", killed_run)
        assert "orphaned" in text and f"tureen runs mark-failed {killed_run}" in text
        code, text = _cli("runs", "mark-failed", "--orphaned")
        assert code == 0 and f"Marked run {killed_run} FAILED" in text and alive.info.run_id not in text
        assert client.get_run(alive.info.run_id).info.status == "RUNNING"
        # the next log_model sweeps the killed one's temp directory
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
        tureen.pyfunc.log_model(name="next", python_model=_Echo())
    assert client.get_run(killed_run).info.status == "FAILED"
    assert not list((tmp_path / "tmp").glob(".log-model.tureen-tmp-*"))
    code, text = _cli("runs", "mark-failed", killed_run)
    assert code == 1 and "not RUNNING" in text
