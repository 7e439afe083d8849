"""The MLflow peer: a separate venv with MLflow 3.x, created once and cached, for interop tests and benchmarks.

tureen's own venv never contains MLflow: "loads without MLflow" is only meaningful that way. Code that needs
MLflow runs in this venv's interpreter, in a subprocess, exchanging files and JSON.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import errno
import fcntl
import hashlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("TUREEN_MLFLOW_VENV", ROOT / ".cache" / "mlflow-venv"))
CONSTRAINTS = ROOT / "constraints" / "ci.txt"
REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn", "skops", "xgboost-cpu", "lightgbm", "torch", "tensorflow-cpu",
                "psycopg2-binary", "pymysql",  # MLflow on PostgreSQL and MySQL (tests/store)
                "psycopg[binary]",  # psycopg 3, for postgresql+psycopg:// URIs on the peer's side
                # MLflow's Lightning autolog imports pytorch_lightning even for lightning's Trainer; its Keras
                # autolog (mlflow.tensorflow) writes TensorBoard logs (tests/autolog/test_keras_lightning.py)
                "lightning", "pytorch-lightning", "tensorboard",
                "matplotlib", "statsmodels", "spacy", "onnx", "onnxruntime",
                # MLflow imports pyspark.ml.connect on every Spark save; without its gRPC extras pyspark exits
                "pyspark[connect]"]


def _stamp() -> str:
    extra = os.environ.get("TUREEN_MLFLOW_EXTRA", "")
    pins = CONSTRAINTS.read_text() if CONSTRAINTS.exists() else ""
    return hashlib.sha256(json.dumps([REQUIREMENTS, extra, pins]).encode()).hexdigest()[:16]


def python() -> Path:
    return VENV / "bin" / "python"


def ensure() -> Path:
    """Create (or reuse) the MLflow venv; return its interpreter. Safe to call from parallel processes."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # the lock lies beside the real directory: a worktree's .cache/mlflow-venv may be a symlink to a shared venv,
    # and two checkouts locking beside their own links would install into it at once
    stamp_file = VENV / ".tureen-stamp"
    with open(VENV.resolve().parent / ".mlflow-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp_file.exists() and stamp_file.read_text() == _stamp() and python().exists():
            return python()
        if not python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        cmd = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS]
        extra = os.environ.get("TUREEN_MLFLOW_EXTRA", "").split()
        cmd += extra
        if CONSTRAINTS.exists():
            cmd += ["-c", str(CONSTRAINTS)]
        subprocess.run(cmd, check=True)
        # as in tureen's venv (Makefile): triton crashes a process that imported TensorFlow first
        subprocess.run([str(python()), "-m", "pip", "uninstall", "-y", "-q", "triton"], check=True)
        saved = share_identical_files(_site_packages(python()), Path(sysconfig.get_paths()["purelib"]))
        if saved:
            print(f"MLflow peer: {saved / 2**30:.1f} GiB of files shared with {sys.prefix} by hard links",
                  file=sys.stderr)
        stamp_file.write_text(_stamp())
    return python()


def _site_packages(interpreter: Path) -> Path:
    out = subprocess.run([str(interpreter), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout
    return Path(out.strip())


def share_identical_files(peer_site: Path, our_site: Path) -> int:
    """Hard-link the peer's copy of every distribution installed identically in both venvs to ours.

    Both venvs hold torch (a CUDA build of about 5 GB), TensorFlow and pyspark; CI's disk is not large
    enough for every copy beside what the suite writes. A file is shared when the same version of its
    distribution lists it in both venvs' ``RECORD`` with the same path, sha256 and size, it lies under
    site-packages and both copies have that size. pip replaces files on upgrade and uninstall rather than
    writing into them, so a later change in one venv never reaches the other. Returns the bytes saved
    (0 when the venvs are on different filesystems).
    """
    if peer_site == our_site or not our_site.is_dir():
        return 0
    saved = 0
    for record in sorted(peer_site.glob("*.dist-info/RECORD")):
        try:
            twin = our_site / record.parent.name / "RECORD"
            ours_listed = set(twin.read_text(encoding="utf-8").splitlines()) if twin.is_file() else set()
            listed = record.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for row in csv.reader(line for line in listed if line in ours_listed):
            if len(row) != 3 or not row[1] or not row[2].isdigit() or ".." in Path(row[0]).parts:
                continue
            ours, theirs = our_site / row[0], peer_site / row[0]
            try:
                a, b = ours.lstat(), theirs.lstat()
                if not (ours.is_file() and theirs.is_file()) or ours.is_symlink() or theirs.is_symlink():
                    continue
                if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) or not a.st_size == b.st_size == int(row[2]):
                    continue
                tmp = theirs.with_name(theirs.name + ".tureen-link")
                os.link(ours, tmp)
                os.replace(tmp, theirs)
            except OSError as exc:
                if exc.errno == errno.EXDEV:  # not one filesystem: nothing to share
                    return saved
                continue
            saved += b.st_size
    return saved


def _peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUREEN_", "PYTHONPATH", "MLFLOW_"))}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run(code: str, *args: str, timeout: float = 300, cwd: str | os.PathLike[str] | None = None) -> Any:
    """Run ``code`` in the MLflow venv; it must print one JSON document as its last stdout line."""
    rc, stdout, stderr = execute(code, [str(a) for a in args], cwd=cwd, env=_peer_env(), timeout=timeout)
    if rc != 0:
        raise AssertionError(f"MLflow side failed (exit {rc}):\n{stderr[-4000:]}")
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


def run_script(script: str | os.PathLike[str], *args: str, cwd: str | os.PathLike[str] | None = None,
               env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, str, str]:
    """``python script args...`` in the MLflow venv, with exactly ``env`` (default: the peer's); returns
    (exit code, stdout, stderr)."""
    script = os.path.abspath(script)
    return execute(Path(script).read_text(), [str(a) for a in args], cwd=cwd,
                   env=_peer_env() if env is None else env, timeout=timeout, file=script)


def execute(code: str, args: list[str], *, cwd: str | os.PathLike[str] | None, env: dict[str, str],
            timeout: float, file: str | None = None) -> tuple[int, str, str]:
    """Run ``code`` (a script's when ``file`` is given, else as ``python -c``) in the MLflow venv.

    It runs in a process of its own, forked from a peer interpreter that has MLflow (and the heavy framework
    the code imports) imported already; see ``tests/_peer_forkserver.py``. When that server is busy (another
    thread is using it) or turned off (``TUREEN_PEER_FORKSERVER=0``), a fresh interpreter runs it.
    """
    server = _fork_server(_preload_for(code))
    if server is not None and server.lock.acquire(blocking=False):
        try:
            return server.run(code, args, str(cwd or os.getcwd()), env, timeout, file)
        finally:
            server.lock.release()
    cmd = [str(ensure()), file] if file else [str(ensure()), "-c", code]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def start_mlflow_cli(cli_args: list[str], *, cwd: str | os.PathLike[str], env: dict[str, str],
                     log: str | os.PathLike[str]) -> "subprocess.Popen | Detached":
    """``mlflow <cli_args>`` (a long-running command: ``server``) in the MLflow venv, its output to ``log``;
    returns a handle with ``pid``, ``poll``, ``wait`` and ``kill``, the process leading a session of its own.

    MLflow's real CLI runs in a child of a fork server that has MLflow's server app imported already; where
    the CLI would start ``python -m uvicorn ...`` (a fresh interpreter spending 15-40 s importing that app
    again), the same uvicorn command line runs in a fork of it, with the environment the CLI gave it. Without
    the fork server (``TUREEN_PEER_FORKSERVER=0``, or it is busy) the plain command runs.
    """
    server = _fork_server(_SERVER_PRELOAD)
    if server is not None and server.lock.acquire(blocking=False):
        try:
            return server.detach(_MLFLOW_CLI_LAUNCHER, [str(a) for a in cli_args], str(cwd), env, str(log))
        finally:
            server.lock.release()
    out = open(log, "wb")
    return subprocess.Popen([str(ensure()), "-m", "mlflow", *cli_args], stdout=out, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd, start_new_session=True)


class Detached:
    """A process started by the fork server, not a child of this one: polled through /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                state = "X"
            if state in ("Z", "X"):
                self.returncode = -1  # ended; its status went to whoever reaped it
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# MLflow's CLI, with its one process start (``mlflow.server._exec_cmd`` of the uvicorn command) done as a fork
# of this process, which has the app imported: uvicorn finds ``mlflow.server.fastapi_app`` in sys.modules.
_MLFLOW_CLI_LAUNCHER = """
import os, sys, signal
import mlflow.server
from mlflow.cli import cli

class _Forked:
    def __init__(self, pid):
        self.pid, self.returncode = pid, None
    def poll(self):
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode
    def wait(self, timeout=None):
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode
    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)
    def terminate(self):
        self.send_signal(signal.SIGTERM)
    def kill(self):
        self.send_signal(signal.SIGKILL)

_real_exec = mlflow.server._exec_cmd
def _exec_cmd(cmd, extra_env=None, **kwargs):
    if list(cmd[1:3]) != ["-m", "uvicorn"] or "--workers" in cmd and cmd[cmd.index("--workers") + 1] != "1":
        return _real_exec(cmd, extra_env=extra_env, **kwargs)
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid:
        return _Forked(pid)
    code = 1
    try:
        os.environ.update(extra_env or {})
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import uvicorn.main
        sys.argv = ["uvicorn", *cmd[3:]]
        uvicorn.main.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
mlflow.server._exec_cmd = _exec_cmd
cli.main(sys.argv[1:], prog_name="mlflow")
"""
#: the server app is imported after uvicorn, as under ``python -m uvicorn`` (MLflow's server module looks
#: at sys.modules to know it runs as a server)
_SERVER_PRELOAD = ("uvicorn", "uvicorn.main", "mlflow", "mlflow.cli",
                   "mlflow.server", "mlflow.server.fastapi_app", "mlflow.pyfunc", "mlflow.models", "numpy",
                   "pandas")


# What each fork server imports before forking. Every snippet imports MLflow; the framework families are
# the imports that cost most (TensorFlow with Keras, PyTorch with Lightning: 15-20 s each).
_BASE = ("mlflow", "mlflow.pyfunc", "mlflow.models", "mlflow.sklearn", "numpy", "pandas", "sklearn")
_FAMILIES = [
    ({"torch", "mlflow.pytorch", "lightning", "pytorch_lightning"}, ("torch", "mlflow.pytorch")),
    ({"tensorflow", "keras", "mlflow.tensorflow", "mlflow.keras"},
     ("tensorflow", "keras", "mlflow.tensorflow", "mlflow.keras")),
]
_SERVERS: dict[tuple[str, ...], "_ForkServer | None"] = {}
_SERVERS_LOCK = threading.Lock()


def _preload_for(code: str) -> tuple[str, ...]:
    names = set(re.findall(r"^\s*from\s+([\w.]+)\s+import\b", code, re.M))
    for line in re.findall(r"^\s*import\s+(.+)$", code, re.M):
        names |= {part.split()[0] for part in line.split(",") if part.strip()}
    names |= {n.split(".")[0] for n in names}
    for triggers, modules in _FAMILIES:
        if names & triggers:
            return _BASE + modules
    return _BASE


def _fork_server(preload: tuple[str, ...]) -> "_ForkServer | None":
    if os.environ.get("TUREEN_PEER_FORKSERVER", "1") == "0" or not hasattr(os, "fork"):
        return None
    with _SERVERS_LOCK:
        if preload in _SERVERS:
            server = _SERVERS[preload]
            if server is None or server.alive():  # None: it failed to start once, and is not tried again
                return server
        try:
            server = _ForkServer(preload)  # the first, or one in place of a server that died
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            print(f"MLflow peer fork server with {preload} did not start ({exc}); using plain processes",
                  file=sys.stderr)
            server = None
        _SERVERS[preload] = server
        return server


class _ForkServer:
    def __init__(self, preload: tuple[str, ...]) -> None:
        self.lock = threading.Lock()
        self._buf = b""
        self.proc = subprocess.Popen([str(ensure()), str(Path(__file__).with_name("_peer_forkserver.py")),
                                      *preload], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=_peer_env(), cwd=ROOT)
        atexit.register(self.close)
        if not self._read(time.monotonic() + 300).get("ready"):
            raise RuntimeError("no ready line")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def _read(self, deadline: float) -> dict:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise subprocess.TimeoutExpired("MLflow peer fork server", 0)
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the MLflow peer fork server exited")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def detach(self, code: str, args: list[str], cwd: str, env: dict[str, str], log: str) -> Detached:
        req = {"code": code, "args": args, "cwd": cwd, "env": env, "stdout": log, "stderr": log, "detach": True}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        return Detached(self._read(time.monotonic() + 60)["pid"])

    def run(self, code: str, args: list[str], cwd: str, env: dict[str, str], timeout: float,
            file: str | None) -> tuple[int, str, str]:
        with tempfile.TemporaryDirectory(prefix="peer-run-") as tmp:
            out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
            req = {"code": code, "args": args, "cwd": cwd, "env": env, "stdout": str(out), "stderr": str(err),
                   "file": file}
            deadline = time.monotonic() + timeout
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            pid = self._read(deadline)["pid"]
            try:
                rc = self._read(deadline)["rc"]
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._read(time.monotonic() + 60)
                raise subprocess.TimeoutExpired(["MLflow peer snippet"], timeout) from None
            return rc, out.read_text(errors="replace"), err.read_text(errors="replace")


if __name__ == "__main__":
    print(ensure())


def both_at_once(theirs, ours):
    """Run the MLflow side and the tureen side of a comparison (two zero-argument callables, each running its
    own process on its own database) at the same time; returns (ours, theirs)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        theirs_f, ours_f = pool.submit(theirs), pool.submit(ours)
        return ours_f.result(), theirs_f.result()
