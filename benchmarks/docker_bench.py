"""Container image benchmark: tureen's image against one built from MLflow 3.17.2's ``generate-dockerfile``.

Both images serve the same scikit-learn pipeline (StandardScaler + LogisticRegression on breast_cancer; saved
by tureen for tureen's image and by MLflow for MLflow's, each tool's own format and requirements) and are
built on the same engine from the same base image: a local Debian bookworm + Python 3.11 image (no registry
is reachable here, so ``python:3.11-slim`` cannot be pulled; MLflow's ``FROM`` line is pointed at the same
local image). Both builds get the host's extra CA certificates the same way (pip goes through a
TLS-intercepting proxy here).

Printed: image size; first build time (cold layer cache, after the base image); and the rebuild time after
only the model changed (a retrained model, same requirements), for each tool. Targets: tureen's image
smaller than MLflow's; tureen's rebuild under a third of its first build.

Usage (root, like the docker tests: installs docker.io/debootstrap if missing and runs a private dockerd)::

    .venv/bin/python benchmarks/docker_bench.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, clean_env, mlflow_python  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "docker"))

import _docker_harness as harness  # noqa: E402

FIT = r"""
import sys
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
C = float(sys.argv[2])
model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)).fit(X, y)
"""

SAVE_TUREEN = FIT + r"""
from tureen import flavors
flavors.sklearn.save_model(model, sys.argv[1], input_example=X[:5])
print("{}")
"""

SAVE_MLFLOW = FIT + r"""
import mlflow.sklearn
# MLflow's default requirements for the flavor (its module-capturing inference also picks up whatever else
# happens to be importable in its venv, e.g. torch, which has nothing to do with this model)
mlflow.sklearn.save_model(model, sys.argv[1], input_example=X[:5],
                          pip_requirements=mlflow.sklearn.get_default_pip_requirements())
print("{}")
"""


def _save(python: str, code: str, path: Path, c: float) -> None:
    proc = subprocess.run([python, "-c", code, str(path), str(c)], capture_output=True, text=True, env=clean_env())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])


def _size(engine: harness.Engine, name: str) -> int:
    return int(engine.docker("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())


def _docker_build(engine: harness.Engine, context: Path, name: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run(["docker", "build", "--force-rm", "-t", name, str(context)], env=engine.env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"docker build of {name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t


def _mlflow_context(model: Path, out: Path, base: str, certs: list[Path]) -> Path:
    """MLflow's generated context, with FROM pointed at the local base and the same CA certificate setup."""
    mlflow_bin = Path(mlflow_python()).parent / "mlflow"
    env = clean_env()
    env["PATH"] = f"{mlflow_bin.parent}:{env.get('PATH', '')}"
    proc = subprocess.run([str(mlflow_bin), "models", "generate-dockerfile", "-m", str(model), "-d", str(out)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"mlflow models generate-dockerfile failed:\n{proc.stderr[-3000:]}")
    dockerfile = out / "Dockerfile"
    text = dockerfile.read_text()
    original_from = re.search(r"^FROM .*$", text, re.M).group(0)  # type: ignore[union-attr]
    (out / "certs").mkdir()
    for i, cert in enumerate(certs):
        shutil.copyfile(cert, out / "certs" / f"{i:02d}-{cert.stem}.crt")
    setup = "\n".join([
        f"FROM {base}",
        "COPY certs/ /usr/local/share/ca-certificates/extra/",
        "RUN update-ca-certificates >/dev/null",
        "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
    ])
    dockerfile.write_text(text.replace(original_from, setup, 1))
    return out


def main() -> None:
    tureen_py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="docker-bench-"))
    print("starting a private Docker engine and the local base image ...", flush=True)
    engine = harness.start_engine()
    os.environ["DOCKER_HOST"] = engine.host
    try:
        base = engine.import_base()
        certs = harness.host_ca_certs()
        for tool, python, code in (("tureen", tureen_py, SAVE_TUREEN), ("mlflow", mlflow_python(), SAVE_MLFLOW)):
            for version, c in (("v1", 1.0), ("v2", 0.05)):
                _save(python, code, work / f"{tool}-{version}", c)

        from tureen.docker import build_image

        results: dict[str, dict[str, float]] = {"tureen": {}, "mlflow": {}}
        for version in ("v1", "v2"):
            print(f"building tureen image {version} ...", flush=True)
            t = time.perf_counter()
            build_image(work / f"tureen-{version}", f"bench/tureen:{version}", base_image=base,
                        extra_ca_certs=certs, log=None)
            results["tureen"][version] = time.perf_counter() - t
        for version in ("v1", "v2"):
            print(f"building MLflow image {version} ...", flush=True)
            context = _mlflow_context(work / f"mlflow-{version}", work / f"mlflow-ctx-{version}", base, certs)
            results["mlflow"][version] = _docker_build(engine, context, f"bench/mlflow:{version}")

        sizes = {tool: _size(engine, f"bench/{tool}:v1") for tool in ("tureen", "mlflow")}
        base_size = _size(engine, base)
        mb = 1e6
        print()
        print(f"base image {base}: {base_size / mb:.0f} MB (Debian bookworm + Python 3.11, in both images)")
        print(f"{'measure':<48} {'tureen':>10} {'MLflow':>10} {'ratio':>7}  target")
        print("-" * 100)
        rows = [
            ("image size (MB)", sizes["tureen"] / mb, sizes["mlflow"] / mb, "tureen smaller"),
            ("image size above the base (MB)", (sizes["tureen"] - base_size) / mb,
             (sizes["mlflow"] - base_size) / mb, ""),
            ("first build, cold layer cache (s)", results["tureen"]["v1"], results["mlflow"]["v1"], ""),
            ("rebuild after only the model changed (s)", results["tureen"]["v2"], results["mlflow"]["v2"], ""),
        ]
        for name, ours, theirs, target in rows:
            print(f"{name:<48} {ours:>10.1f} {theirs:>10.1f} {ours / theirs:>7.3f}  {target}")
        share = results["tureen"]["v2"] / results["tureen"]["v1"]
        print(f"tureen rebuild / first build: {share:.3f} (target < 0.333)")
        print(f"MLflow rebuild / first build: {results['mlflow']['v2'] / results['mlflow']['v1']:.3f}")
        ok = sizes["tureen"] < sizes["mlflow"] and share < 1 / 3
        print("targets met" if ok else "TARGETS MISSED")
    finally:
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
