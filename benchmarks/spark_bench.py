"""Spark batch-scoring benchmark: rows/s of tureen's ``spark_udf`` beside ``mlflow.pyfunc.spark_udf``.

One command (tureen's figure beside MLflow's, measured in the same run, on the same data and model files):

    .venv/bin/python benchmarks/spark_bench.py            # 2 million rows on local[2]

What is measured: the scaled LogisticRegression pipeline on sklearn's breast_cancer data (30 double
features), saved once by tureen (skops; MLflow 3.x loads the same directory natively), scoring 2 million
rows read from 8 Parquet files, result type ``double``, columns passed by name. Each side runs in its own
process with its own ``local[2]`` session (tureen in tureen's venv, MLflow in the MLflow peer venv with
pyspark installed there), does one full warm-up pass (Python workers start and load the model), then
``--repeats`` timed passes that score every row into Spark's ``noop`` sink; the median pass is reported.
Both sides must produce the same sum of predictions.

Model loads are counted per Python worker process, the same way for both sides: a ``sitecustomize`` on the
workers' ``PYTHONPATH`` wraps ``skops.io.load`` (which both libraries call to load this model) and logs the
worker's pid on each call. tureen's own load counter (a Spark accumulator) is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = 8

# Installed on the Python workers of both sides through PYTHONPATH: counts skops.io.load calls per process.
SITECUSTOMIZE = '''
import os, sys
_LOG = os.environ.get("SPARK_BENCH_LOAD_LOG")
if _LOG:
    import importlib.machinery

    class _CountSkopsLoads:
        """After skops.io is imported, wrap its load() to log this process's pid on every call."""

        def find_spec(self, fullname, path=None, target=None):
            if fullname != "skops.io":
                return None
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return None
            original_exec = spec.loader.exec_module

            def exec_module(module, _exec=original_exec):
                _exec(module)
                real = module.load

                def load(*args, **kwargs):
                    with open(os.path.join(_LOG, str(os.getpid())), "a") as f:
                        f.write("load\\n")
                    return real(*args, **kwargs)

                module.load = load

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _CountSkopsLoads())
'''


# ------------------------------------------------------------------------------------------------
# one side (runs in tureen's venv or in the MLflow venv; imports nothing of tureen at module level)


def run_side(side: str, master: str, data: str, model: str, repeats: int, load_log: str) -> dict:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import warnings

    warnings.filterwarnings("ignore")
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master(master).appName(f"spark-bench-{side}")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(data)
    cols = df.columns
    t = time.perf_counter()
    if side == "tureen":
        from tureen.pyfunc import spark_udf

        udf = spark_udf(spark, model, result_type="double")
    else:
        import mlflow.pyfunc

        udf = mlflow.pyfunc.spark_udf(spark, model, result_type="double", env_manager="local")
    make_udf = time.perf_counter() - t
    scored = df.select(udf(*cols).alias("p"))
    # warm-up: one full pass, so every worker has started, imported its packages and loaded the model
    t = time.perf_counter()
    scored.write.format("noop").mode("overwrite").save()
    warmup = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        scored.write.format("noop").mode("overwrite").save()
        times.append(time.perf_counter() - t)
    rows = df.count()
    total = scored.agg(F.sum("p")).collect()[0][0]
    tasks_per_pass = df.rdd.getNumPartitions()
    result = {"side": side, "rows": rows, "times": times, "median": statistics.median(times),
              "warmup": warmup, "make_udf": make_udf, "sum": total, "partitions": tasks_per_pass,
              "driver_pid": os.getpid()}
    if side == "tureen":
        result["accumulator_loads"] = udf.load_counts
    spark.stop()
    loads = {}
    for f in Path(load_log).iterdir():
        loads[f.name] = len(f.read_text().split())
    result["loads_by_pid"] = loads
    return result


# ------------------------------------------------------------------------------------------------
# the orchestrator (tureen's venv)


def prepare(workdir: Path, rows: int) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tureen.flavors import sklearn as tsk

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    model_dir = Path(tempfile.mkdtemp(prefix="model-", dir=workdir)) / "model"
    tsk.save_model(model, model_dir, input_example=X[:5])

    data = workdir / f"breast_cancer_{rows}"
    if not (data / "_DONE").exists():
        data.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        big = X.to_numpy()[rng.integers(0, len(X), size=rows)]
        per = -(-rows // FILES)
        for i in range(FILES):
            chunk = big[i * per:(i + 1) * per]
            table = pa.table({c: chunk[:, j] for j, c in enumerate(X.columns)})
            pq.write_table(table, data / f"part-{i}.parquet")
        (data / "_DONE").write_text(str(rows))
    return data, model_dir


def _mlflow_python() -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import mlflow_python

    py = mlflow_python()
    import pyspark

    probe = subprocess.run([py, "-c", "import pyspark, pyarrow; print(pyspark.__version__)"], capture_output=True,
                           text=True)
    if probe.returncode != 0 or probe.stdout.strip() != pyspark.__version__:
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"pyspark=={pyspark.__version__}", "pyarrow"], check=True)
    return py


def run_subprocess(python: str, side: str, args: argparse.Namespace, data: Path, model: Path,
                   workdir: Path) -> dict:
    hook_dir = Path(tempfile.mkdtemp(prefix="hook-", dir=workdir))
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    load_log = Path(tempfile.mkdtemp(prefix=f"loads-{side}-", dir=workdir))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUREEN_", "MLFLOW_", "PYTHONPATH"))}
    env.update({"PYTHONPATH": str(hook_dir), "SPARK_BENCH_LOAD_LOG": str(load_log), "PYTHONWARNINGS": "ignore"})
    if side == "mlflow":
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # MLflow 3.17 gates skops loads behind it too
    cmd = [python, str(Path(__file__).resolve()), "--side", side, "--master", args.master, "--repeats",
           str(args.repeats), "--data", str(data), "--model", str(model), "--load-log", str(load_log)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(workdir))
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _loads_line(r: dict) -> str:
    workers = {pid: n for pid, n in r["loads_by_pid"].items() if int(pid) != r["driver_pid"]}
    driver = r["loads_by_pid"].get(str(r["driver_pid"]), 0)
    per = ", ".join(f"pid {pid}: {n}" for pid, n in sorted(workers.items()))
    text = f"{len(workers)} Python workers; loads per worker: {per or 'none'}"
    if driver:
        text += f"; on the driver: {driver}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=str(ROOT / ".cache" / "bench" / "spark"))
    parser.add_argument("--side", choices=["tureen", "mlflow"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--load-log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.master, args.data, args.model, args.repeats, args.load_log)))
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data, model = prepare(workdir, args.rows)
    mlflow_py = _mlflow_python()
    print(f"Scoring {args.rows:,} rows ({FILES} Parquet files, 30 features) on {args.master}, "
          f"median of {args.repeats} passes after a warm-up; model {model}", flush=True)
    ours = run_subprocess(sys.executable, "tureen", args, data, model, workdir)
    theirs = run_subprocess(mlflow_py, "mlflow", args, data, model, workdir)
    if abs(ours["sum"] - theirs["sum"]) > 1e-6 * max(1.0, abs(theirs["sum"])):
        raise SystemExit(f"The two sides disagree: sum of predictions {ours['sum']} vs {theirs['sum']}")

    def rate(r: dict) -> float:
        return r["rows"] / r["median"]

    print(f"\n{'measure':<44} {'tureen':>14} {'MLflow':>14} {'ratio':>7}")
    print("-" * 84)
    print(f"{'rows/s (median pass)':<44} {rate(ours):>14,.0f} {rate(theirs):>14,.0f} "
          f"{rate(ours) / rate(theirs):>7.2f}")
    print(f"{'seconds per pass (median)':<44} {ours['median']:>14.2f} {theirs['median']:>14.2f} "
          f"{ours['median'] / theirs['median']:>7.2f}")
    print(f"{'passes (s)':<44} {' '.join(f'{t:.2f}' for t in ours['times']):>14} "
          f"{' '.join(f'{t:.2f}' for t in theirs['times']):>14}")
    print(f"{'warm-up pass, workers starting (s)':<44} {ours['warmup']:>14.2f} {theirs['warmup']:>14.2f}")
    print(f"{'spark_udf() call on the driver (s)':<44} {ours['make_udf']:>14.2f} {theirs['make_udf']:>14.2f}")
    print(f"\nmodel loads (skops.io.load calls; {2 + args.repeats} jobs of {ours['partitions']} tasks: warm-up, "
          f"{args.repeats} timed passes, the sum check):")
    print(f"  tureen: {_loads_line(ours)}")
    print(f"          tureen's own counter (accumulator): {ours['accumulator_loads']}")
    print(f"  MLflow: {_loads_line(theirs)}")
    print(f"\nsum of predictions (both sides): {ours['sum']:.0f}")


if __name__ == "__main__":
    main()
