"""The MLflow peer: a separate venv with MLflow 3.x, created once and cached, for interop tests and benchmarks.

tureen's own venv never contains MLflow: "loads without MLflow" is only meaningful that way. Code that needs
MLflow runs in this venv's interpreter, in a subprocess, exchanging files and JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("TUREEN_MLFLOW_VENV", ROOT / ".cache" / "mlflow-venv"))
CONSTRAINTS = ROOT / "constraints" / "ci.txt"
REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn", "skops", "xgboost-cpu", "lightgbm", "torch", "tensorflow-cpu",
                "psycopg2-binary", "pymysql",  # MLflow on PostgreSQL and MySQL (tests/store)
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
    stamp_file = VENV / ".tureen-stamp"
    with open(VENV.parent / ".mlflow-venv.lock", "w") as lock:
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
        stamp_file.write_text(_stamp())
    return python()


def run(code: str, *args: str, timeout: float = 300, cwd: str | os.PathLike[str] | None = None) -> Any:
    """Run ``code`` in the MLflow venv; it must print one JSON document as its last stdout line."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TUREEN_", "PYTHONPATH", "MLFLOW_"))}
    env["PYTHONWARNINGS"] = "ignore"
    proc = subprocess.run([str(ensure()), "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)
    if proc.returncode != 0:
        raise AssertionError(f"MLflow side failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else None


if __name__ == "__main__":
    print(ensure())
