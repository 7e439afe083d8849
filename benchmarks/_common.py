"""Shared helpers for benchmarks: the MLflow peer, a lean tureen venv, timing in fresh processes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import _mlflow_peer  # noqa: E402

LEAN_VENV = ROOT / ".cache" / "bench-tureen-venv"


def mlflow_python() -> str:
    return str(_mlflow_peer.ensure())


def lean_tureen_python(extra: str = "sklearn") -> str:
    """A venv with tureen and only the sklearn extra, so imports are not inflated by unrelated frameworks
    (the main venv also holds torch and tensorflow, which scikit-learn's array-API shims import)."""
    py = LEAN_VENV / "bin" / "python"
    stamp = LEAN_VENV / ".stamp"
    want = f"{extra}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"
    if not (py.exists() and stamp.exists() and stamp.read_text() == want):
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LEAN_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-c", str(ROOT / "constraints" / "ci.txt"), "-e", f"{ROOT}[{extra}]"], check=True)
        stamp.write_text(want)
    return str(py)


LEAN_MLFLOW_VENV = ROOT / ".cache" / "bench-mlflow-venv"


def lean_mlflow_python() -> str:
    """MLflow 3.17.2 with only scikit-learn and skops beside it: the same footing as ``lean_tureen_python``
    (the interop venv also holds torch and tensorflow, which would slow MLflow's imports unfairly).

    Created on first use (about a minute) and cached; scikit-learn is pinned to the version of the interpreter
    running the benchmark, which saves the models MLflow then loads. Safe to call from parallel processes."""
    import fcntl
    from importlib.metadata import version

    py = LEAN_MLFLOW_VENV / "bin" / "python"
    stamp = LEAN_MLFLOW_VENV / ".stamp"
    reqs = ["mlflow==3.17.2", f"scikit-learn=={version('scikit-learn')}", "skops"]
    LEAN_MLFLOW_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(LEAN_MLFLOW_VENV.parent / ".bench-mlflow-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if py.exists() and stamp.exists() and stamp.read_text() == " ".join(reqs):
            return str(py)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LEAN_MLFLOW_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs], check=True)
        probe = subprocess.run([str(py), "-c", "import mlflow.pyfunc, sklearn; print(mlflow.__version__)"],
                               capture_output=True, text=True, env=clean_env())
        if probe.returncode != 0 or probe.stdout.strip() != "3.17.2":
            raise RuntimeError(f"the benchmark MLflow venv {LEAN_MLFLOW_VENV} does not import MLflow 3.17.2:\n"
                               f"{probe.stderr[-2000:]}")
        stamp.write_text(" ".join(reqs))
    return str(py)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_json(python: str, code: str, *args: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, env=env or clean_env())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wall(python: str, code: str, *args: str, repeat: int = 5) -> float:
    """Median wall time (s) of a fresh interpreter running ``code``."""
    import time

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([python, "-c", code, *args], check=True, capture_output=True, env=clean_env())
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def table(rows: list[tuple[str, float, float, str]], unit: str = "s") -> str:
    out = [f"{'measure':<52} {'tureen':>11} {'MLflow':>11} {'ratio':>7}  target",
           "-" * 100]
    for name, ours, theirs, target in rows:
        ratio = ours / theirs if theirs else float("nan")
        out.append(f"{name:<52} {ours:>10.4f}{unit} {theirs:>10.4f}{unit} {ratio:>7.3f}  {target}")
    return "\n".join(out)
