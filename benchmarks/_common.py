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
    (the interop venv also holds torch and tensorflow, which would slow MLflow's imports unfairly)."""
    py = LEAN_MLFLOW_VENV / "bin" / "python"
    stamp = LEAN_MLFLOW_VENV / ".stamp"
    reqs = ["mlflow==3.17.2", "scikit-learn", "skops"]
    if not (py.exists() and stamp.exists() and stamp.read_text() == " ".join(reqs)):
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(LEAN_MLFLOW_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs], check=True)
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
