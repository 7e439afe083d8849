"""The Spark MLlib flavor: a ``PipelineModel`` (or one fitted stage, wrapped in one) written by Spark's own writer.

MLflow's ``spark`` layout: the pipeline directory ``sparkml`` (Spark's JSON metadata and Parquet data: no
pickle), the section below and ``loader_module: mlflow.spark``, so MLflow 3.x loads these models and tureen
loads MLflow's.

Spark's reader picks the class of every stage from the saved metadata (the JVM class, and on the Python side the
module it imports). Before Spark reads anything, every ``metadata`` file under ``sparkml`` is checked: stage ids
must be plain names (a stage path cannot leave the model directory), and a class outside Spark's own
``org.apache.spark.ml`` / ``pyspark.ml`` packages (a Python stage of your own, say) loads only through the
unsafe gate (``allow_pickle``).

Spark needs a session: the active one is used, else one local session is started on first use and reused
(no UI, bound to 127.0.0.1, workers running this interpreter). On a local master models are written and read
in place, with no DFS temporary directory; on a cluster master pass ``dfs_tmpdir`` (a directory every node
can read), through which the files are copied, as MLflow does.

pyfunc: a pandas DataFrame becomes a Spark DataFrame, the pipeline transforms it and the prediction column
(the last stage's ``predictionCol``, else ``prediction``) comes back as a pandas Series.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from tureen.exceptions import (InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError)
from tureen.flavors._base import resolve_data_file, suggest_flavor, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements",
           "get_session", "check_pipeline_dir"]

FLAVOR_NAME = "spark"
DATA_DIR = "sparkml"
_OWN_CLASS = re.compile(r"^(org\.apache\.spark\.ml|pyspark\.ml)(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_UID = re.compile(r"^[A-Za-z0-9_]+$")
# characters Hadoop's path handling treats specially (globs, URI syntax)
_HADOOP_SPECIAL = set("*?[]{}\\:")
_MAX_METADATA = 16 * 1024 * 1024

_session_lock = threading.Lock()
_session: Any = None


def get_default_pip_requirements() -> list[str]:
    """``pyspark==<installed>``.

    Example:
        >>> get_default_pip_requirements()[0].startswith("pyspark==")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    return [pin("pyspark")]


def _pyspark() -> Any:
    from tureen._optional import import_optional
    from tureen.exceptions import MissingDependencyError

    try:
        return import_optional("pyspark", "the spark flavor")
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{exc.message}. Spark also needs a Java 17 runtime") from exc


def get_session() -> Any:
    """The SparkSession the flavor uses: the active one, else a local session started once and reused.

    Inside a Spark task (a model scored by ``spark_udf``) the local session is allowed explicitly, as Spark
    otherwise refuses a SparkContext on an executor.

    Example:
        >>> get_session().sparkContext.master  # doctest: +SKIP
        'local[*]'
    """
    global _session
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    with _session_lock:
        if _session is not None and _session.sparkContext._jsc is not None:  # not stopped since
            return _session
        from pyspark import TaskContext

        in_task = TaskContext.get() is not None
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (SparkSession.builder.master("local[1]" if in_task else "local[*]")
                   .appName("tureen-spark-flavor")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.pyspark.python", sys.executable))
        if in_task:
            builder = builder.config("spark.executor.allowSparkContext", "true")
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("ERROR")
        return _session


def _is_local(spark: Any) -> bool:
    master = spark.sparkContext.master
    return master == "local" or master.startswith(("local[", "local-cluster["))


def _uri(path: Path) -> str:
    text = str(path.resolve())
    bad = sorted(set(text) & _HADOOP_SPECIAL)
    if bad:
        raise InvalidParameterError(f"Spark cannot address the path {text!r}: it contains {' '.join(bad)}")
    return "file://" + text


def _hadoop_fs(spark: Any, uri: str) -> Any:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _dfs_dir(spark: Any, dfs_tmpdir: str | None) -> str | None:
    """A fresh DFS path to go through, or None on a local master (read and written in place)."""
    if dfs_tmpdir is None and _is_local(spark):
        return None
    base = dfs_tmpdir or os.environ.get("MLFLOW_DFS_TMP") or os.environ.get("TUREEN_DFS_TMP")
    if not base:
        raise InvalidParameterError(f"Spark runs on {spark.sparkContext.master!r}, whose nodes cannot read this "
                                    "machine's files: pass dfs_tmpdir (a directory every node can read)")
    if not isinstance(base, str):
        raise InvalidParameterError(f"dfs_tmpdir must be a path string, got {type(base).__name__}")
    return base.rstrip("/") + "/tureen-" + uuid.uuid4().hex


# ------------------------------------------------------------------------------------------------
# the pipeline directory check


def check_pipeline_dir(data: Path) -> list[str]:
    """Check every Spark ``metadata`` file under ``data`` before Spark reads it; return the stage classes that
    are not Spark's own (empty: only Spark's code runs).

    Raises:
        ModelFormatError: no metadata, malformed metadata, or a stage id that is not a plain name.
    """
    files = sorted(p for p in data.rglob("part-*") if p.parent.name == "metadata" and p.is_file())
    if not (data / "metadata").is_dir() or not files:
        raise ModelFormatError(f"The Spark model {data.name} has no metadata (not a Spark ML directory)")
    untrusted: list[str] = []
    for file in files:
        if file.stat().st_size > _MAX_METADATA:
            raise ModelFormatError(f"The Spark metadata {file.relative_to(data)} is larger than "
                                   f"{_MAX_METADATA} bytes")
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                meta = json.loads(line)
            except ValueError:
                raise ModelFormatError(f"The Spark metadata {file.relative_to(data)} is not JSON") from None
            if not isinstance(meta, dict):
                raise ModelFormatError(f"The Spark metadata {file.relative_to(data)} is not a JSON object")
            cls = meta.get("class")
            if not isinstance(cls, str):
                raise ModelFormatError(f"The Spark metadata {file.relative_to(data)} names no class")
            if not _OWN_CLASS.match(cls):
                untrusted.append(cls)
            uids = [meta.get("uid")]
            params = meta.get("paramMap") if isinstance(meta.get("paramMap"), dict) else {}
            stage_uids = params.get("stageUids", [])
            uids += stage_uids if isinstance(stage_uids, list) else [stage_uids]
            for uid in uids:
                if uid is not None and (not isinstance(uid, str) or not _UID.match(uid)):
                    raise ModelFormatError(f"The Spark metadata {file.relative_to(data)} has the stage id "
                                           f"{uid!r}, which is not a plain name")
    return sorted(set(untrusted))


# ------------------------------------------------------------------------------------------------
# the flavor


def _is_spark_model(obj: Any) -> bool:
    if not any(c.__module__.split(".")[0] == "pyspark" for c in type(obj).__mro__):
        return False
    from pyspark.ml import Model, PipelineModel, Transformer
    from pyspark.ml.util import MLWritable

    return isinstance(obj, PipelineModel) or (isinstance(obj, (Model, Transformer)) and isinstance(obj, MLWritable))


class SparkFlavor(Flavor):
    """Spark MLlib pipelines through Spark's own writer and reader (no pickle)."""

    name = FLAVOR_NAME
    loader_module = "mlflow.spark"
    packages = {"pyspark": "pyspark", "pyarrow": "pyarrow"}
    extra = "spark"
    fork_safe = False  # a SparkSession (a JVM behind a socket) does not survive fork
    system_packages = ("openjdk-17-jre-headless",)
    autolog_module = None

    def write(self, model: Any, root: Path, *, dfs_tmpdir: str | None = None) -> Written:
        """Write a fitted ``PipelineModel`` (or one fitted stage, saved as a one-stage pipeline, as MLflow does).

        Args:
            dfs_tmpdir: on a cluster master, a directory every node can read, through which Spark writes the
                files before they are copied into the model; not needed (and not used) on a local master.

        Example:
            >>> save_model(pipeline_model, "spark_model", input_example=pdf.head(3))  # doctest: +SKIP
        """
        if not _is_spark_model(model):
            raise UnsupportedModelError(f"The spark flavor saves fitted Spark ML models (a PipelineModel or a fitted "
                                        f"stage); got {type(model).__module__}.{type(model).__qualname__}."
                                        + suggest_flavor(model))
        pyspark = _pyspark()
        from pyspark.ml import PipelineModel

        if not isinstance(model, PipelineModel):
            model = PipelineModel([model])
        spark = get_session()
        target = root / DATA_DIR
        through = _dfs_dir(spark, dfs_tmpdir)
        if through is None:
            model.write().overwrite().save(_uri(target))
        else:
            model.write().overwrite().save(through)
            src, fs = _hadoop_fs(spark, through)
            fs.copyToLocalFile(True, src, spark.sparkContext._jvm.org.apache.hadoop.fs.Path(_uri(target)), True)
        for crc in target.rglob(".*.crc"):  # Hadoop's checksum side files: not part of the model
            crc.unlink()
        cls = f"{type(model).__module__}.{type(model).__qualname__}"
        return Written(conf={"pyspark_version": pyspark.__version__, "model_data": DATA_DIR, "code": None,
                             "model_class": cls},
                       pyfunc={"data": DATA_DIR}, predict=_SparkPredictor(model).predict,
                       requirements=get_default_pip_requirements())

    def _data_dir(self, root: Path, conf: dict[str, Any]) -> Path:
        data = resolve_data_file(root, conf.get("model_data") or DATA_DIR, "Spark ML")
        if not data.is_dir():
            raise ModelFormatError(f"The Spark model {data.name} is not a directory")
        return data

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None,
             dfs_tmpdir: str | None = None) -> Any:
        from tureen.exceptions import UntrustedCodeError
        from tureen.flavors._gate import require_unsafe_allowed

        pyspark = _pyspark()
        warn_version_mismatch("pyspark", conf.get("pyspark_version"), pyspark.__version__)
        data = self._data_dir(root, conf)
        untrusted = check_pipeline_dir(data)
        if untrusted:
            require_unsafe_allowed(f"the Spark model {data.name}, whose stages are classes of the artifact's "
                                   f"choosing ({', '.join(untrusted)})", allow_pickle, error=UntrustedCodeError)
        from pyspark.ml import PipelineModel

        spark = get_session()
        through = _dfs_dir(spark, dfs_tmpdir)
        try:
            if through is None:
                return PipelineModel.load(_uri(data))
            dst, fs = _hadoop_fs(spark, through)
            fs.copyFromLocalFile(False, True, spark.sparkContext._jvm.org.apache.hadoop.fs.Path(_uri(data)), dst)
            return PipelineModel.load(through)
        except Exception as exc:  # noqa: BLE001 - py4j and Spark raise many kinds; the artifact is at fault
            if isinstance(exc, (InvalidParameterError, ModelFormatError)):
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(f"The Spark model {data.name} cannot be loaded: {text[:500]}") from None

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        meta = context.get("meta")
        signature = getattr(meta, "signature", None)
        impl = _SparkPredictor(raw, signature=signature)
        _warm_up(impl, signature)
        return impl

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """Whether a stage class is not Spark's own (Spark's format itself has no pickle)."""
        try:
            return bool(check_pipeline_dir(self._data_dir(root, conf)))
        except ModelFormatError:
            return False

    def describe(self, root: Path, conf: dict[str, Any]) -> dict[str, Any]:
        """The pipeline's stage classes, from the saved metadata (nothing loaded)."""
        data = self._data_dir(root, conf)
        stages: list[str] = []
        for file in sorted((data / "stages").glob("*/metadata/part-*")) if (data / "stages").is_dir() else []:
            try:
                stages.append(str(json.loads(file.read_text(encoding="utf-8").splitlines()[0]).get("class")))
            except (ValueError, IndexError, AttributeError, OSError):
                continue
        return {"model_class": conf.get("model_class"), "stages": [s.rsplit(".", 1)[-1] for s in stages]}


def _prediction_column(model: Any) -> str:
    stages = getattr(model, "stages", None) or [model]
    last = stages[-1]
    if hasattr(last, "hasParam") and last.hasParam("predictionCol"):
        return str(last.getOrDefault(last.getParam("predictionCol")))
    return "prediction"


class _SparkPredictor(Predictor):
    """pyfunc: pandas -> Spark DataFrame -> ``transform`` -> the prediction column as a pandas Series."""

    def __init__(self, model: Any, signature: Any = None) -> None:
        super().__init__(model)
        self.column = _prediction_column(model)
        self.vector_columns: list[str] = []
        inputs = getattr(signature, "inputs", None)
        for spec in getattr(inputs, "inputs", None) or []:
            if type(getattr(spec, "type", None)).__name__ == "SparkMLVector" and getattr(spec, "name", None):
                self.vector_columns.append(spec.name)
        # the pipeline as one Java object (None: the plain Python path); converted on first use
        self._java_stages = _java_stages(model)
        self._java: Any = None
        self._java_params: list[tuple[dict[Any, Any], dict[Any, Any]]] | None = None
        self._java_lock = threading.Lock()

    def _transform(self, sdf: Any) -> Any:
        """``raw.transform(sdf)``: when every stage is a plain Java one, as one call of the Java pipeline.

        pyspark's ``PipelineModel.transform`` sends every stage's params to the JVM again on each call (one
        round trip per param: ~140 for a 2-stage pipeline, most of a 1-row prediction); the Java pipeline
        built once from the same stage objects gives the same answer in one. Params changed on the Python
        stages since (through ``get_raw_model()``) are seen and sent again before the call.
        """
        stages = self._java_stages
        jdf = getattr(sdf, "_jdf", None)
        if stages is None or jdf is None:  # a Python stage, or a Spark Connect session: Spark's own path
            return self.raw.transform(sdf)
        with self._java_lock:
            params = _param_snapshot(stages)
            if self._java is None or not _same_params(params, self._java_params):
                self._java = self.raw._to_java()  # sends every stage's params once
                self._java_params = params
            java = self._java
        from pyspark.sql import DataFrame

        return DataFrame(java.transform(jdf), sdf.sparkSession)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            try:
                data = pd.DataFrame(data)
            except (ValueError, TypeError) as exc:
                raise SchemaEnforcementError(f"A Spark model takes a table; got {type(data).__name__}",
                                             [str(exc)]) from None
        spark = get_session()
        try:
            frame = data
            if self.vector_columns:
                frame = data.copy(deep=False)
                for col in self.vector_columns:
                    frame[col] = frame[col].map(lambda v: [float(x) for x in v])
            sdf = spark.createDataFrame(frame)
            if self.vector_columns:
                from pyspark.ml.functions import array_to_vector

                for col in self.vector_columns:
                    sdf = sdf.withColumn(col, array_to_vector(col))
            result = self._transform(sdf).select(self.column)
            out = _small_double_column(result, self.column, len(data))
            if out is None:
                out = result.toPandas()[self.column]
        except Exception as exc:  # noqa: BLE001 - Spark's analysis and py4j errors: the input does not fit
            if isinstance(exc, (InvalidParameterError, ModelFormatError)):
                raise
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SchemaEnforcementError(f"The input does not fit the Spark model: {text[:500]}",
                                         [text[:500]]) from None
        out.index = data.index
        return out


def _java_stages(model: Any) -> list[Any] | None:
    """Every stage of a ``PipelineModel`` (nested pipelines flattened) when each is a plain Java transformer
    (its transform is the wrapped Java object's, unchanged in Python), else None."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.base import Transformer
    from pyspark.ml.wrapper import JavaParams, JavaTransformer

    found: list[Any] = []

    def walk(stage: Any) -> bool:
        cls = type(stage)
        if cls is PipelineModel:
            return all(walk(s) for s in stage.stages)
        if not (isinstance(stage, JavaTransformer) and getattr(stage, "_java_obj", None) is not None
                and cls.transform is Transformer.transform and cls._transform is JavaTransformer._transform
                and cls._to_java is JavaParams._to_java):
            return False
        found.append(stage)
        return True

    return found if type(model) is PipelineModel and walk(model) else None


def _param_snapshot(stages: list[Any]) -> list[tuple[dict[Any, Any], dict[Any, Any]]]:
    return [(dict(s._paramMap), dict(s._defaultParamMap)) for s in stages]


def _same_params(now: list[Any], then: list[Any] | None) -> bool:
    if then is None or len(now) != len(then):
        return False
    try:
        return all(a == b for a, b in zip(now, then))
    except (TypeError, ValueError):  # a param value without a plain equality (an array): send them again
        return False


def _warm_up_frame(signature: Any) -> Any:
    """A 1-row pandas frame of the signature's columns (zeros, ``False``, a short text), or None when the
    signature does not say enough (no signature, unnamed columns, vector, array or object columns)."""
    import pandas as pd

    from tureen.models.signature import DataType

    inputs = getattr(signature, "inputs", None)
    if inputs is None or inputs.is_tensor_spec() or not inputs.has_input_names():
        return None
    values = {DataType.boolean: False, DataType.integer: 0, DataType.long: 0, DataType.float: 0.0,
              DataType.double: 0.0, DataType.string: "warm-up", DataType.binary: b"",
              DataType.datetime: pd.Timestamp(0)}
    columns = {}
    for spec in inputs.inputs:
        if not isinstance(spec.type, DataType):
            return None
        columns[spec.name] = pd.Series([values[spec.type]], dtype=spec.type.to_pandas())
    return pd.DataFrame(columns) if columns else None


def _warm_up(impl: _SparkPredictor, signature: Any) -> None:
    """One throwaway prediction at load on a row made from the signature, so that the first request does not
    pay Spark's one-time costs (the JVM compiling the plan's code paths, the first Arrow conversion, the Java
    pipeline built once). A failure is logged and the model loads all the same."""
    frame = _warm_up_frame(signature)
    if frame is None:
        return
    try:
        impl.predict(frame)
    except Exception as exc:  # noqa: BLE001 - a synthetic row the pipeline refuses: reported, never raised
        import logging

        logging.getLogger(__name__).info("The Spark model's warm-up prediction failed (the model loads all "
                                         "the same): %s: %s", type(exc).__name__, exc)


# Up to this many rows a double prediction column comes back through collect(): for a few rows toPandas()'s
# conversion costs more than the Spark job itself (about 30 ms of a 1-row call here); beyond, its columnar path wins.
_COLLECT_ROWS = 1000


def _small_double_column(result: Any, column: str, rows: int) -> Any:
    """The prediction column as a float64 Series through ``collect()`` when it is a double column of a small
    frame (the same values, name and dtype ``toPandas()`` gives), else None."""
    from pyspark.sql.types import DoubleType

    if rows > _COLLECT_ROWS or not isinstance(result.schema[column].dataType, DoubleType):
        return None
    import pandas as pd

    return pd.Series([row[0] for row in result.collect()], name=column, dtype="float64")


FLAVOR = SparkFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
