"""``tureen predict --spark MASTER``: score a big CSV/Parquet file with Spark and write the results.

The CLI command in :mod:`tureen.cli.predict` calls :func:`run_spark_predict` when ``--spark`` is given.
Everything that can be checked without Spark (the model URI, the paths, the formats, Java) is checked
before a JVM starts, and the output appears only when the whole job succeeded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Sequence

from tureen.exceptions import (InvalidInputError, InvalidParameterError, MissingDependencyError,
                               ModelPredictionError, ResourceAlreadyExistsError, ResourceNotFoundError,
                               SchemaEnforcementError, TureenError)

__all__ = ["run_spark_predict", "check_java"]

FORMATS = ("csv", "parquet")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


# ------------------------------------------------------------------------------------------------
# checks that need no Spark


def check_java(min_version: int = 17) -> str:
    """Find the Java runtime Spark will use and check its version; return the ``java`` executable.

    Raises:
        MissingDependencyError: no Java, or one older than ``min_version``; says what to install.

    Example:
        >>> check_java()  # doctest: +SKIP
        '/usr/lib/jvm/java-17-openjdk-amd64/bin/java'
    """
    how = ("Install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless) and set JAVA_HOME to it, "
           "or put its java on PATH")
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = str(Path(java_home) / "bin" / "java")
        if not os.access(java, os.X_OK):
            raise MissingDependencyError(f"Spark needs Java, but JAVA_HOME={java_home!r} has no bin/java. {how}")
    else:
        found = shutil.which("java")
        if not found:
            raise MissingDependencyError(f"Spark needs a Java runtime and none was found (no JAVA_HOME, no java "
                                         f"on PATH). {how}")
        java = found
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingDependencyError(f"Spark needs Java, but {java!r} does not run ({exc}). {how}") from exc
    text = proc.stderr + proc.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_392" is Java 8
            major = int(match.group(2))
        if major < min_version:
            raise MissingDependencyError(f"Spark needs Java {min_version} or newer; {java!r} is Java {major}. {how}")
    return java


def _is_local_path(path: str) -> bool:
    from tureen.uri import split_scheme

    return split_scheme(path)[0] in ("", "file")


def _local(path: str) -> Path:
    from tureen.uri import _local_path

    return _local_path(path)


def _format_of(path: str, given: str | None, role: str) -> str | None:
    if given:
        fmt = given.lower()
        if fmt not in FORMATS:
            raise InvalidParameterError(f"{role} format {given!r} is not supported; use one of {list(FORMATS)}")
        return fmt
    p = Path(path.rstrip("/"))
    fmt = _EXTENSIONS.get(p.suffix.lower())
    if fmt is None and _is_local_path(path) and _local(path).is_dir():
        # a directory of part files, as Spark writes them
        suffixes = {_EXTENSIONS.get(f.suffix.lower()) for f in _local(path).iterdir() if f.is_file()}
        suffixes.discard(None)
        if len(suffixes) == 1:
            fmt = suffixes.pop()
    return fmt


def _spark_uri(path: str) -> str:
    return str(_local(path).resolve()) if _is_local_path(path) else path


# ------------------------------------------------------------------------------------------------
# the session


def _is_local_master(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-cluster[")


def _session(master: str) -> tuple[Any, bool]:
    """(session, created_here). An active session on the same master is reused (and left running)."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkContext._active_spark_context
    if active is not None:
        if active.master != master:
            raise InvalidParameterError(f"A Spark session on master {active.master!r} is already running in this "
                                        f"process; cannot start another on {master!r}")
        return SparkSession.builder.getOrCreate(), False
    check_java()
    builder = SparkSession.builder.master(master).appName("tureen predict")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    if _is_local_master(master):
        # workers must run this interpreter (the one with tureen, pandas and the model's packages), and a
        # local job needs no network interface besides loopback
        builder = (builder.config("spark.pyspark.python", sys.executable)
                   .config("spark.pyspark.driver.python", sys.executable)
                   .config("spark.ui.enabled", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1"))
        # pyspark's Python side reads PYSPARK_PYTHON, not only the conf, for the workers it starts
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = builder.getOrCreate()
    # a failed job is reported once, as the model's error; Spark's own log would repeat its stack traces
    spark.sparkContext.setLogLevel("FATAL")
    return spark, True


class _Progress:
    """Prints the running stages' task counts to stderr while a job runs."""

    def __init__(self, sc: Any, label: str, enabled: bool) -> None:
        self._sc = sc
        self._label = label
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = ""
        self.started = time.monotonic()

    def __enter__(self) -> "_Progress":
        if self._enabled:
            self._thread = threading.Thread(target=self._run, name="tureen-spark-progress", daemon=True)
            self._thread.start()
        return self

    def _line(self) -> str:
        tracker = self._sc.statusTracker()
        done = total = 0
        for stage_id in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                done += info.numCompletedTasks
                total += info.numTasks
        if not total:
            return ""
        elapsed = time.monotonic() - self.started
        return f"{self._label}: {done}/{total} tasks done ({elapsed:.0f} s)"

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                line = self._line()
            except Exception:  # noqa: BLE001 - progress is best effort; the job reports its own errors
                continue
            if line and line != self._last:
                sys.stderr.write("\r" + line.ljust(len(self._last)))
                sys.stderr.flush()
                self._last = line

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            if self._last:
                sys.stderr.write("\n")
                sys.stderr.flush()


# ------------------------------------------------------------------------------------------------
# the command


def _translate(exc: BaseException) -> TureenError:
    """A failed Spark job -> the model's own error (schema, integrity, ...) or a ModelPredictionError."""
    from tureen.pyfunc.spark import error_from_spark

    err = error_from_spark(exc)
    if err is not None:
        return err
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return ModelPredictionError(f"The Spark job failed: {first[:500]}")


def run_spark_predict(master: str, model_uri: str, input_path: str, output_path: str,
                      input_format: str | None = None, output_format: str | None = None,
                      result_type: str = "double", columns: Sequence[str] | None = None, progress: bool = True,
                      *, params: dict[str, Any] | None = None, prediction_column: str = "prediction",
                      allow_pickle: bool | None = None) -> int:
    """Score ``input_path`` with the model on Spark and write the input columns plus the predictions.

    Args:
        master: a Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``, ...).
        model_uri: the model (path, ``runs:/``, ``models:/``); resolved before Spark starts.
        input_path: a CSV (with a header row) or Parquet file or directory.
        output_path: where to write; must not exist. Spark writes a directory of part files.
        input_format: ``csv`` or ``parquet``; default from the input's extension.
        output_format: ``csv`` or ``parquet``; default from the output's extension, else the input's format.
        result_type: the Spark type of the predictions (see :func:`tureen.pyfunc.spark_udf`). A struct
            result is written as one column per field; in CSV an array result is written as JSON text.
        columns: the input columns the model takes (default: the signature's columns, else all columns).
        progress: print the job's task progress to stderr.
        params: inference params for the model.
        prediction_column: the name of the predictions column.
        allow_pickle: allow pickle-based model formats (default: ``TUREEN_ALLOW_PICKLE``, true).

    Returns:
        The number of rows written.

    Raises:
        ResourceNotFoundError: the model or the input does not exist.
        ResourceAlreadyExistsError: the output exists.
        InvalidInputError: unknown format, or columns missing from the input.
        SchemaEnforcementError: the input's columns or values do not fit the model's signature.
        MissingDependencyError: pyspark or Java is missing.

    Example:
        >>> run_spark_predict("local[2]", "churn_model", "data.parquet", "scored.parquet")  # doctest: +SKIP
        100000
    """
    from tureen.uri import resolve_model_uri

    # 1. everything that needs no Spark, so mistakes fail in milliseconds, not after a JVM start
    resolve_model_uri(model_uri)
    if not isinstance(prediction_column, str) or not prediction_column:
        raise InvalidParameterError("prediction_column must be a non-empty name")
    if _is_local_path(input_path) and not _local(input_path).exists():
        raise ResourceNotFoundError(f"The input {input_path!r} does not exist")
    in_fmt = _format_of(input_path, input_format, "input")
    if in_fmt is None:
        raise InvalidInputError(f"Cannot tell the format of {input_path!r} from its name; pass the input format "
                                f"({' or '.join(FORMATS)})")
    out_fmt = _format_of(output_path, output_format, "output") or in_fmt
    local_out = _is_local_path(output_path)
    if local_out and _local(output_path).exists():
        raise ResourceAlreadyExistsError(f"The output {output_path!r} already exists; choose a new path")
    if columns is not None:
        columns = [str(c) for c in columns]
        if not columns:
            raise InvalidParameterError("columns, when given, must name at least one column")

    from tureen.pyfunc.spark import _require_pyspark

    _require_pyspark("tureen predict --spark")
    with warnings.catch_warnings():
        # pyspark 4.x warns on every pandas UDF that it does not fully support pandas 3; not the user's concern
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        return _run(master, model_uri, input_path, output_path, in_fmt, out_fmt, local_out, result_type, columns,
                    progress, params, prediction_column, allow_pickle)


def _run(master: str, model_uri: str, input_path: str, output_path: str, in_fmt: str, out_fmt: str,
         local_out: bool, result_type: str, columns: list[str] | None, progress: bool,
         params: dict[str, Any] | None, prediction_column: str, allow_pickle: bool | None) -> int:
    from tureen.pyfunc.spark import spark_udf

    spark, created = _session(master)
    tmp_out: Path | None = None
    try:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        # 2. the UDF (ships the model) and the input
        predict = spark_udf(spark, model_uri, result_type=result_type, params=params, allow_pickle=allow_pickle)
        reader = spark.read
        if in_fmt == "csv":
            reader = reader.option("header", "true").option("inferSchema", "true")
        try:
            df = reader.format(in_fmt).load(_spark_uri(input_path))
        except Exception as exc:  # noqa: BLE001 - AnalysisException and friends: unreadable input
            raise InvalidInputError(f"Cannot read {input_path!r} as {in_fmt}: "
                                    f"{str(exc).strip().splitlines()[0][:300]}") from None
        available = df.columns
        if prediction_column in available:
            raise InvalidInputError(f"The input already has a column {prediction_column!r}; choose another "
                                    "prediction column name")
        schema = predict._input_schema
        if columns is None and schema is not None and schema.has_input_names():
            wanted = [str(n) for n in schema.input_names()]
            missing = [n for n in schema.required_input_names() if str(n) not in available]
            if missing:
                msg = f"missing inputs {missing}"
                raise SchemaEnforcementError(f"The input {input_path!r} does not match the model signature: "
                                             f"{msg} (the input has {available})", [msg])
            columns = [n for n in wanted if n in available]
        elif columns is None:
            columns = list(available)
        else:
            missing = [c for c in columns if c not in available]
            if missing:
                raise InvalidInputError(f"The input {input_path!r} has no columns {missing} (it has {available})")
        feature_cols = [F.col(f"`{c.replace('`', '``')}`") for c in columns]
        predict._check_names(list(columns))
        scored = df.withColumn(prediction_column, predict(*feature_cols))

        # 3. shape the output for its format
        rtype = predict.result_type
        if isinstance(rtype, T.StructType):
            clash = [f.name for f in rtype.fields if f.name in available]
            if clash:
                raise InvalidInputError(f"The result fields {clash} clash with input columns of the same name")
            scored = scored.select(*[F.col(f"`{c}`") for c in available],
                                   *[F.col(f"`{prediction_column}`").getField(f.name).alias(f.name)
                                     for f in rtype.fields])
        if out_fmt == "csv":
            arrays = [f.name for f in scored.schema.fields if isinstance(f.dataType, (T.ArrayType, T.MapType,
                                                                                     T.StructType))]
            for name in arrays:
                scored = scored.withColumn(name, F.to_json(F.col(f"`{name}`")))

        # 4. write into a temporary sibling and rename it into place: no half-written output
        if local_out:
            final = _local(output_path).resolve()
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp_out = final.parent / f".{final.name}.tureen-{uuid.uuid4().hex[:8]}"
            target = str(tmp_out)
        else:
            target = output_path
        writer = scored.write.format(out_fmt).mode("errorifexists")
        if out_fmt == "csv":
            writer = writer.option("header", "true")
        with _Progress(spark.sparkContext, f"scoring {Path(input_path).name}", progress):
            try:
                writer.save(target)
            except Exception as exc:  # noqa: BLE001 - Py4J/Spark errors carry the worker's traceback text
                raise _translate(exc) from exc
        if tmp_out is not None:
            if final.exists():
                raise ResourceAlreadyExistsError(f"The output {output_path!r} appeared while scoring; the "
                                                 f"results are left in {str(tmp_out)!r}")
            os.replace(tmp_out, final)
            tmp_out = None
            written_at = str(final)
        else:
            written_at = output_path
        reread = spark.read.format(out_fmt)
        if out_fmt == "csv":
            reread = reread.option("header", "true")
        return int(reread.load(written_at).count())
    finally:
        if tmp_out is not None:
            shutil.rmtree(tmp_out, ignore_errors=True)
        if created:
            spark.stop()
