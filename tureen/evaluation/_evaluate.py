"""``evaluate``: score a model (or given predictions) on labelled data, compute MLflow's default metrics for
classifiers and regressors, draw its plots, log everything to the active run (or a new one) under MLflow's
names, and return an :class:`~tureen.evaluation.EvaluationResult`.

Facts taken from MLflow 3.17's evaluator (names, formulas, which artifacts for which case); the code is ours.
Where it differs on purpose: predictions are computed once and reused (sklearn's ``score`` of a classifier or
regressor is the accuracy or R² of those same predictions), plots are drawn without pyplot at 120 dpi, and the
SHAP evaluator is not run (MLflow skips it too unless ``shap`` is installed).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from tureen.evaluation._results import (
    CsvEvaluationArtifact,
    EvaluationArtifact,
    EvaluationResult,
    ImageEvaluationArtifact,
    JsonEvaluationArtifact,
    MetricValue,
)
from tureen.exceptions import InvalidParameterError, TureenError

_log = logging.getLogger(__name__)

MODEL_TYPES = ("classifier", "regressor")
#: the evaluators this build has; "default" means the one for the model type. "shap" is accepted and skipped.
EVALUATORS = ("default", "classifier", "regressor", "shap")
_SKLEARN_LOADERS = ("mlflow.sklearn", "tureen.flavors.sklearn")
#: flavors whose native object is scored directly (its predict_proba gives the probability metrics), as MLflow
_RAW_LOADERS = (*_SKLEARN_LOADERS, "mlflow.xgboost", "mlflow.catboost")
_HASH_ROWS = 5  # MLflow's evaluation-dataset hash reads the first and last 5 rows


def list_evaluators() -> list[str]:
    """The evaluator names ``evaluate(evaluators=...)`` accepts.

    Example:
        >>> "default" in list_evaluators()
        True
    """
    return list(EVALUATORS)


# ------------------------------------------------------------------------------------------------ data


@dataclass
class _Data:
    features: Any                      # pandas DataFrame with the feature names as columns
    labels: Any | None                 # numpy array
    predictions: Any | None            # numpy array (static predictions, model=None)
    feature_names: list[str]
    targets_name: str | None
    predictions_name: str | None
    source: Any                        # what to record as the run's dataset input
    name: str = "dataset"
    path: str | None = None
    hash: str = ""
    entity: Any = None                 # a Dataset given by the caller (its own record)
    extra: dict[str, Any] = field(default_factory=dict)


def _feature_name(i: int, n: int) -> str:
    return f"feature_{str(i + 1).zfill(math.ceil(math.log10(n + 1)))}"


def _prepare_data(data: Any, targets: Any, predictions: str | None, feature_names: Sequence[str] | None,
                  dataset_path: str | None, has_model: bool) -> _Data:
    import numpy as np
    import pandas as pd

    entity = None
    name = "dataset"
    if _is_dataset(data):
        entity = data
        name = getattr(data, "name", None) or "dataset"
        if targets is not None:
            raise InvalidParameterError("targets= must not be given with a Dataset: name the targets column in "
                                        "the Dataset (e.g. from_pandas(df, targets='y'))")
        ds_pred = getattr(data, "predictions", None)
        if has_model and ds_pred is not None:
            raise InvalidParameterError("The Dataset names a predictions column but a model is given: remove one")
        if not has_model and predictions is not None:
            raise InvalidParameterError("predictions= must not be given with a Dataset: name the predictions "
                                        "column in the Dataset")
        targets = getattr(data, "targets", None)
        if not has_model:
            predictions = ds_pred
        frame = getattr(data, "df", None)
        if frame is not None:
            data = frame
        else:
            feats = getattr(data, "features", None)
            if feats is None:
                raise InvalidParameterError(f"Cannot evaluate on a {type(data).__name__}: pass a DataFrame, a "
                                            "numpy array, a list or a pandas/numpy Dataset")
            data = np.asarray(feats)
    if isinstance(data, list):
        try:
            data = np.array(data)
        except ValueError as exc:
            raise InvalidParameterError(f"data is a list whose rows differ in length: {exc}") from None
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise InvalidParameterError(f"A numpy array or list given as data must be 2-dimensional (rows x "
                                        f"features), got shape {data.shape}")
        if predictions is not None and not has_model:
            raise InvalidParameterError("predictions= names a column, so data must be a DataFrame")
        labels = None
        if targets is not None:
            if isinstance(targets, str):
                raise InvalidParameterError("With a numpy array or list as data, targets must be an array or list of "
                                            "labels, not a column name")
            labels = np.asarray(targets)
            if len(labels) != len(data):
                raise InvalidParameterError(f"targets has {len(labels)} rows but data has {len(data)}")
        n = data.shape[1]
        if feature_names is not None:
            names = [str(f) for f in feature_names]
            if len(names) != n:
                raise InvalidParameterError(f"feature_names has {len(names)} names but data has {n} columns")
            if len(set(names)) != len(names):
                raise InvalidParameterError("feature_names must be unique")
        else:
            names = [_feature_name(i, n) for i in range(n)]
        features = pd.DataFrame(data, columns=names)
        out = _Data(features, labels, None, names, None, None, entity or (data, labels), name, dataset_path,
                    entity=entity)
        out.hash = _eval_hash(data, labels, None, names)
        return out
    if not isinstance(data, pd.DataFrame):
        raise InvalidParameterError(f"data must be a pandas DataFrame, a numpy array, a list or a Dataset, not "
                                    f"{type(data).__name__}")
    if targets is not None and not isinstance(targets, str):
        raise InvalidParameterError("With a DataFrame as data, targets must be the name of its label column")
    for col, what in ((targets, "targets"), (predictions if not has_model else None, "predictions")):
        if col is not None and col not in data.columns:
            raise InvalidParameterError(f"{what}={col!r} is not a column of data (columns: {list(data.columns)[:20]})")
    labels = data[targets].to_numpy() if targets is not None else None
    preds = data[predictions].to_numpy() if (predictions is not None and not has_model) else None
    if feature_names is not None:
        names = list(feature_names)
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise InvalidParameterError(f"feature_names not in data: {missing[:20]}")
        if len(set(names)) != len(names):
            raise InvalidParameterError("feature_names must be unique")
        features = data[names]
    else:
        drop = [c for c in (targets, predictions if preds is not None else None) if c is not None]
        features = data.drop(columns=drop) if drop else data
    names = [c if isinstance(c, str) else f"feature_{c}" for c in features.columns]
    if list(features.columns) != names:
        features = features.set_axis(names, axis=1)
    out = _Data(features, labels, preds, names, targets, predictions if preds is not None else None,
                entity or data, name, dataset_path, entity=entity)
    out.hash = _eval_hash(features, labels, preds, names)
    return out


def _is_dataset(data: Any) -> bool:
    import numpy as np
    import pandas as pd

    if isinstance(data, (pd.DataFrame, np.ndarray, list)):
        return False
    return hasattr(data, "_to_mlflow_entity") or hasattr(data, "digest") and (hasattr(data, "df") or
                                                                                 hasattr(data, "features"))


def _u64(values: Any) -> bytes:
    import numpy as np

    return np.asarray(values, dtype=">u8").tobytes()  # big-endian, as MLflow packs them


def _hash_block(block: Any) -> bytes:
    import numpy as np
    import pandas as pd

    if isinstance(block, pd.DataFrame):
        return _u64(pd.util.hash_pandas_object(block))
    arr = np.asarray(block)
    return _u64(pd.util.hash_array(arr.flatten(order="C"))) + _u64(np.array(arr.shape, dtype="uint64"))


def _md5_part(md5: Any, values: Any) -> None:
    md5.update(_u64([len(values)]))
    if len(values) < 2 * _HASH_ROWS:
        md5.update(_hash_block(values))
        return
    head = values.iloc[:_HASH_ROWS] if hasattr(values, "iloc") else values[:_HASH_ROWS]
    tail = values.iloc[-_HASH_ROWS:] if hasattr(values, "iloc") else values[-_HASH_ROWS:]
    md5.update(_hash_block(head))
    md5.update(_hash_block(tail))


def _eval_hash(features: Any, labels: Any, preds: Any, names: list[str]) -> str:
    """The ``hash`` MLflow records in the ``mlflow.datasets`` run tag: MD5 over the row count and the first
    and last rows of features, labels and predictions, then the feature names (best effort for exotic cells)."""
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        for part in (features, labels, preds):
            if part is not None:
                _md5_part(md5, part)
    except Exception:  # noqa: BLE001 - unhashable cells: the tag still names the data, without a stable hash
        pass
    md5.update(",".join(map(str, names)).encode("utf-8"))
    return md5.hexdigest()


# ------------------------------------------------------------------------------------------------ model


@dataclass
class _Model:
    predict: Callable[[Any], Any] | None
    predict_proba: Callable[[Any], Any] | None = None
    raw: Any = None                      # the native sklearn estimator, when there is one
    model_uuid: str | None = None
    model_id: str | None = None


def _prepare_model(model: Any, model_config: dict[str, Any] | None) -> _Model:
    if model is None:
        return _Model(None)
    if isinstance(model, str):
        import tureen.pyfunc

        model_id = None
        if model.startswith("models:/m-"):
            model_id = model[len("models:/"):].split("/", 1)[0]
        loaded = tureen.pyfunc.load_model(model, model_config=model_config)
        out = _from_pyfunc(loaded)
        out.model_id = out.model_id or model_id
        return out
    if model_config:
        raise InvalidParameterError("model_config= applies only to a model given as a URI")
    from tureen.pyfunc import PyFuncModel

    if isinstance(model, PyFuncModel) or (hasattr(model, "metadata") and hasattr(model, "predict")
                                          and hasattr(getattr(model, "metadata"), "flavors")):
        return _from_pyfunc(model)
    if callable(model):
        return _Model(model)
    raise InvalidParameterError(f"model must be a model URI, a loaded pyfunc model, a function or None, not "
                                f"{type(model).__name__}")


def _from_pyfunc(model: Any) -> _Model:
    meta = model.metadata
    loader = (meta.flavors.get("python_function") or {}).get("loader_module", "")
    model_id = getattr(model, "model_id", None) or getattr(meta, "model_id", None)
    out = _Model(model.predict, model_uuid=getattr(meta, "model_uuid", None), model_id=model_id)
    if loader in _RAW_LOADERS:
        try:
            raw = model.get_raw_model()
        except Exception:  # noqa: BLE001 - no native object: score through pyfunc only
            raw = None
        sklearn_api = loader in _SKLEARN_LOADERS or hasattr(raw, "predict_proba")  # not a bare Booster
        if raw is not None and hasattr(raw, "predict") and sklearn_api:
            out.raw = raw if loader in _SKLEARN_LOADERS else None  # MLflow logs "score" for sklearn only
            out.predict = raw.predict
            out.predict_proba = getattr(raw, "predict_proba", None)
    return out


# ------------------------------------------------------------------------------------------------ run


@contextlib.contextmanager
def _run() -> Iterator[Any]:
    from tureen.tracking import fluent

    active = fluent.active_run()
    if active is not None:
        yield active
        return
    with fluent.start_run() as run:
        yield run


# ------------------------------------------------------------------------------------------------ metrics


def _sk() -> Any:
    from tureen._optional import import_optional

    return import_optional("sklearn.metrics", "model evaluation")


def _one_column(values: Any, column: str | None) -> Any:
    """The prediction column out of what a model returned (a Series, a frame, a dict, a list of dicts, ...)."""
    import numpy as np
    import pandas as pd

    if isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        values = pd.DataFrame(values)
    if isinstance(values, dict):
        values = pd.DataFrame({k: np.asarray(v).reshape(-1) if np.ndim(v) else [v] for k, v in values.items()})
    if isinstance(values, pd.DataFrame):
        if column is not None and column in values.columns:
            return values[column].to_numpy()
        if values.shape[1] == 1:
            return values.iloc[:, 0].to_numpy()
        if column is None:
            raise InvalidParameterError("The model returned several columns: name the one to evaluate with "
                                        f"predictions= (columns: {list(values.columns)[:20]})")
        raise InvalidParameterError(f"predictions={column!r} is not among the model's output columns "
                                    f"{list(values.columns)[:20]}")
    if isinstance(values, pd.Series):
        return values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return arr


def _classifier_metrics(sk: Any, y: Any, y_pred: Any, y_proba: Any, labels: Any, average: str, pos_label: Any,
                        weights: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "example_count": len(y),
        "accuracy_score": sk.accuracy_score(y, y_pred, sample_weight=weights),
        "recall_score": sk.recall_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
        "precision_score": sk.precision_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
        "f1_score": sk.f1_score(y, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
    }
    if y_proba is not None:
        out["log_loss"] = sk.log_loss(y, y_proba, labels=labels, sample_weight=weights)
    return out


def _binary_metrics(sk: Any, y: Any, y_pred: Any, y_proba: Any = None, labels: Any = None, pos_label: Any = 1,
                    weights: Any = None) -> dict[str, Any]:
    tn, fp, fn, tp = sk.confusion_matrix(y, y_pred).ravel()
    return {"true_negatives": int(tn), "false_positives": int(fp), "false_negatives": int(fn),
            "true_positives": int(tp),
            **_classifier_metrics(sk, y, y_pred, y_proba, labels, "binary", pos_label, weights)}


def _regressor_metrics(sk: Any, y: Any, y_pred: Any, weights: Any) -> dict[str, Any]:
    import numpy as np

    y_arr = np.asarray(y)
    total = (y_arr * np.asarray(weights)).sum() if weights is not None else y_arr.sum()
    mse = sk.mean_squared_error(y, y_pred, sample_weight=weights)
    return {
        "example_count": len(y),
        "mean_absolute_error": sk.mean_absolute_error(y, y_pred, sample_weight=weights),
        "mean_squared_error": mse,
        "root_mean_squared_error": math.sqrt(mse),
        "sum_on_target": total,
        "mean_on_target": total / len(y),
        "r2_score": sk.r2_score(y, y_pred, sample_weight=weights),
        "max_error": sk.max_error(y, y_pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(y, y_pred, sample_weight=weights),
    }


def _plain(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _sklearn_score(raw: Any, features: Any, y: Any, y_pred: Any, weights: Any, kind: str) -> float | None:
    """``raw.score(X, y)`` as MLflow logs it, from the predictions already made when sklearn's score is the
    plain accuracy (classifiers) or R² (regressors) of ``predict``; else by calling it."""
    try:
        from sklearn.base import ClassifierMixin, RegressorMixin
        from sklearn.pipeline import Pipeline
    except ImportError:
        return None
    final = raw
    while isinstance(final, Pipeline):
        final = final.steps[-1][1]
    mixin = ClassifierMixin if kind == "classifier" else RegressorMixin
    try:
        if getattr(type(final), "score", None) is mixin.score and hasattr(raw, "predict"):
            sk = _sk()
            if kind == "classifier":
                return float(sk.accuracy_score(y, y_pred, sample_weight=weights))
            return float(sk.r2_score(y, y_pred, sample_weight=weights))
        return float(raw.score(features.copy(), y, sample_weight=weights))
    except Exception as exc:  # noqa: BLE001 - MLflow logs a warning and goes on without "score"
        _log.warning("Computing the sklearn model's score failed: %r", exc)
        return None


# ------------------------------------------------------------------------------------------------ evaluate


class _Evaluation:
    def __init__(self, data: _Data, model: _Model, model_type: str | None, config: dict[str, Any],
                 extra_metrics: Sequence[Any], custom_artifacts: Sequence[Callable[..., Any]] | None,
                 predictions: str | None, tmp: Path, artifact_uri: str) -> None:
        self.data, self.model, self.model_type, self.config = data, model, model_type, config
        self.extra_metrics, self.custom_artifacts = list(extra_metrics), list(custom_artifacts or [])
        self.predictions_col = predictions
        self.tmp, self.artifact_uri = tmp, artifact_uri.rstrip("/")
        self.prefix = config.get("metric_prefix") or ""
        if not isinstance(self.prefix, str):
            raise InvalidParameterError("evaluator_config metric_prefix must be a string")
        self.weights = config.get("sample_weights")
        self.values: dict[str, MetricValue] = {}
        self.artifacts: dict[str, EvaluationArtifact] = {}
        self.files: list[Path] = []
        self.y_pred: Any = None
        self.y_proba: Any = None

    # -- helpers
    def _metrics(self, found: dict[str, Any]) -> None:
        for k, v in found.items():
            self.values[k] = MetricValue(aggregate_results={k: _plain(v)})

    def _file(self, name: str, ext: str) -> Path:
        return self.tmp / f"{self.prefix}{name}{ext}"

    def _image(self, name: str, draw: Callable[[], Any]) -> None:
        from tureen.evaluation import _plots

        path = self._file(name, ".png")
        try:
            fig = draw()
            _plots.save(fig, path)
        except Exception as exc:  # noqa: BLE001 - as MLflow: a plot that cannot be drawn is skipped, not fatal
            _log.warning("Could not draw %s: %r", name, exc)
            return
        self.files.append(path)
        self.artifacts[name] = ImageEvaluationArtifact(f"{self.artifact_uri}/{path.name}", local_path=path)

    def _csv(self, name: str, frame: Any) -> None:
        path = self._file(name, ".csv")
        frame.to_csv(path, index=False)
        self.files.append(path)
        self.artifacts[name] = CsvEvaluationArtifact(f"{self.artifact_uri}/{path.name}", content=frame,
                                                     local_path=path)

    def _predict(self) -> Any:
        features = self.data.features
        if self.model.predict is None:
            if self.data.predictions is None:
                raise InvalidParameterError("No model and no predictions: give model=, or predictions= naming the "
                                            "column of data that holds the model's outputs")
            return self.data.predictions
        try:
            out = self.model.predict(features.copy())
        except TureenError:
            raise
        except Exception as exc:
            from tureen.exceptions import ModelPredictionError

            raise ModelPredictionError(f"The model raised while predicting the evaluation data: "
                                       f"{type(exc).__name__}: {exc}") from exc
        return _one_column(out, self.predictions_col)

    def run(self) -> None:
        if self.model_type in MODEL_TYPES and self.data.labels is None:
            raise InvalidParameterError(f"targets= is needed for a {self.model_type} model (the label column of "
                                        "data, or an array of labels)")
        self.y_pred = self._predict()
        if self.data.labels is not None and len(self.y_pred) != len(self.data.labels):
            raise InvalidParameterError(f"The model returned {len(self.y_pred)} predictions for "
                                        f"{len(self.data.labels)} rows")
        if self.model_type == "classifier":
            self._classifier()
        elif self.model_type == "regressor":
            self._regressor()
        self._extra()
        self._custom_artifacts()

    # -- model types
    def _score(self, kind: str) -> None:
        if self.model.raw is not None:
            score = _sklearn_score(self.model.raw, self.data.features, self.data.labels, self.y_pred, self.weights,
                                   kind)
            if score is not None:
                self._metrics({"score": score})

    def _regressor(self) -> None:
        self._score("regressor")
        self._metrics(_regressor_metrics(_sk(), self.data.labels, self.y_pred, self.weights))

    def _classifier(self) -> None:
        import numpy as np

        sk = _sk()
        y, y_pred = self.data.labels, self.y_pred
        if self.model.predict_proba is not None:
            try:
                self.y_proba = np.asarray(self.model.predict_proba(self.data.features.copy()))
            except Exception as exc:  # noqa: BLE001 - no probabilities: the metrics that need them are skipped
                _log.warning("predict_proba failed, skipping probability metrics: %r", exc)
        labels = self.config.get("label_list")
        pos_label = self.config.get("pos_label")
        if pos_label is not None and labels is not None and pos_label not in list(labels):
            raise InvalidParameterError(f"pos_label {pos_label!r} is not in label_list {list(labels)!r}")
        try:
            labels = np.unique(np.concatenate([np.asarray(y), np.asarray(y_pred)])) if labels is None \
                else np.sort(np.asarray(labels))
        except TypeError as exc:
            raise InvalidParameterError(f"Labels and predictions cannot be compared: {exc}") from None
        if len(labels) <= 2:
            if pos_label is None:
                pos_label = labels[-1]
            else:
                labels = np.append(labels[labels != pos_label], pos_label)
            if len(labels) < 2:
                raise InvalidParameterError("A classifier's evaluation data must hold at least two distinct labels, "
                                            f"found {len(labels)}")
        self.labels, self.pos_label = labels, pos_label
        self._score("classifier")
        proba = self.y_proba
        if len(labels) <= 2:
            self._metrics(_binary_metrics(sk, y, y_pred, proba, labels, pos_label, self.weights))
            if proba is not None:
                self._binary_curves(sk, y, proba[:, 1])
        else:
            average = self.config.get("average", "weighted")
            found = _classifier_metrics(sk, y, y_pred, proba, labels, average, None, self.weights)
            if average in ("macro", "weighted") and proba is not None:
                found["roc_auc"] = sk.roc_auc_score(y, proba, sample_weight=self.weights, average=average,
                                                    multi_class="ovr")
            self._metrics(found)
            self._multiclass_artifacts(sk, y, y_pred, proba)
        self._confusion_matrix(sk, y, y_pred)

    def _binary_curves(self, sk: Any, y: Any, prob: Any) -> None:
        import numpy as np

        from tureen.evaluation import _plots

        w, pos = self.weights, self.pos_label
        fpr, tpr, _ = sk.roc_curve(y, prob, sample_weight=w, pos_label=pos)
        roc_auc = sk.roc_auc_score(y, prob, sample_weight=w)
        precision, recall, _ = sk.precision_recall_curve(y, prob, sample_weight=w, pos_label=pos)
        ap = sk.average_precision_score(y, prob, pos_label=pos, sample_weight=w)
        self._metrics({"roc_auc": roc_auc, "precision_recall_auc": ap})
        self._image("roc_curve_plot", lambda: _plots.curves([(f"AUC={roc_auc:.3f}", fpr, tpr)], kind="roc",
                                                            pos_label=pos))
        self._image("precision_recall_curve_plot",
                    lambda: _plots.curves([(f"AP={ap:.3f}", recall, precision)], kind="pr", pos_label=pos))
        self._image("lift_curve_plot", lambda: _plots.lift_curve(y, self.y_proba, list(np.unique(y)), pos))
        self._calibration()

    def _calibration(self) -> None:
        from tureen.evaluation import _plots

        n_bins = self.config.get("calibration_n_bins", 10)
        name = self.config.get("calibration_classifier_name")
        if not isinstance(n_bins, int) or (name is not None and not isinstance(name, str)):
            raise InvalidParameterError("calibration_n_bins must be an int and calibration_classifier_name a string")
        self._image("calibration_curve_plot", lambda: _plots.calibration_curve(
            self.data.labels, self.y_proba, list(self.labels), self.pos_label, n_bins=n_bins, name=name))

    def _multiclass_artifacts(self, sk: Any, y: Any, y_pred: Any, proba: Any) -> None:
        import numpy as np
        import pandas as pd

        from tureen.evaluation import _plots

        y, y_pred = np.asarray(y), np.asarray(y_pred)
        rows = []
        for cls in self.labels:
            row: dict[str, Any] = {"positive_class": cls}
            row.update(_binary_metrics(sk, (y == cls).astype(int), (y_pred == cls).astype(int), pos_label=1,
                                       weights=self.weights))
            rows.append(row)
        per_class = pd.DataFrame(rows)
        if proba is not None:
            self._calibration()
            limit = self.config.get("max_classes_for_multiclass_roc_pr", 10)
            if len(self.labels) <= limit:
                w = self.weights
                roc, pr, roc_aucs, aps = [], [], [], []
                for index, cls in enumerate(self.labels):
                    yb, pb = (y == cls).astype(int), proba[:, index]
                    fpr, tpr, _ = sk.roc_curve(yb, pb, sample_weight=w)
                    a = sk.roc_auc_score(yb, pb, sample_weight=w)
                    precision, recall, _ = sk.precision_recall_curve(yb, pb, sample_weight=w)
                    ap = sk.average_precision_score(yb, pb, pos_label=1, sample_weight=w)
                    roc.append((f"label={cls},AUC={a:.3f}", fpr, tpr))
                    pr.append((f"label={cls},AP={ap:.3f}", recall, precision))
                    roc_aucs.append(a)
                    aps.append(ap)
                self._image("roc_curve_plot", lambda: _plots.curves(roc, kind="roc"))
                per_class["roc_auc"] = roc_aucs
                self._image("precision_recall_curve_plot", lambda: _plots.curves(pr, kind="pr"))
                per_class["precision_recall_auc"] = aps
            else:
                _log.warning("%d classes > max_classes_for_multiclass_roc_pr=%d: ROC and PR curves not logged",
                             len(self.labels), limit)
        self._csv("per_class_metrics", per_class)

    def _confusion_matrix(self, sk: Any, y: Any, y_pred: Any) -> None:
        from tureen.evaluation import _plots

        matrix = sk.confusion_matrix(y, y_pred, labels=self.labels, normalize="true", sample_weight=self.weights)
        self._image("confusion_matrix", lambda: _plots.confusion_matrix(matrix, list(self.labels)))

    # -- user metrics and artifacts
    def aggregate(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.values.items():
            for agg, v in (value.aggregate_results or {}).items():
                if v is None:
                    continue
                out[name if agg == name.split("/")[0] else f"{name}/{agg}"] = v
        return out

    def _eval_frame(self) -> Any:
        import pandas as pd

        frame = pd.DataFrame({"prediction": list(self.y_pred)})
        if self.data.labels is not None:
            frame["target"] = list(self.data.labels)
        return frame

    def _extra(self) -> None:
        import copy

        if not self.extra_metrics:
            return
        frame = self._eval_frame()
        col_mapping = self.config.get("col_mapping") or {}
        for index, metric in enumerate(self.extra_metrics):
            fn = getattr(metric, "eval_fn", None)
            name = getattr(metric, "name", None)
            if fn is None or not name:
                raise InvalidParameterError(f"extra_metrics[{index}] is a {type(metric).__name__}, not a metric: "
                                            "make one with tureen.models.make_metric")
            params = list(inspect.signature(fn).parameters.values())
            if len(params) == 2 and params[0].name != "predictions" and params[1].name != "targets":
                args = [frame.copy(), copy.deepcopy(self.aggregate())]
            else:
                args = []
                for p in params:
                    column = col_mapping.get(p.name, p.name)
                    if column in ("predictions", self.predictions_col, self.data.predictions_name):
                        args.append(frame["prediction"].copy())
                    elif column in ("targets", self.data.targets_name):
                        if "target" in frame:
                            args.append(frame["target"].copy())
                        elif p.default is not inspect.Parameter.empty:
                            args.append(p.default)
                        else:
                            raise InvalidParameterError(f"Metric {name!r} needs targets; give targets=")
                    elif column == "metrics":
                        args.append(copy.deepcopy(self.values))
                    elif not isinstance(column, str):
                        args.append(column)
                    elif column in self.data.features.columns:
                        args.append(self.data.features[column].copy())
                    elif p.default is not inspect.Parameter.empty:
                        args.append(p.default)
                    else:
                        raise InvalidParameterError(f"Metric {name!r} asks for {p.name!r}, which is neither "
                                                    "predictions, targets, metrics nor an input column")
            result = fn(*args)
            version = getattr(metric, "version", None)
            key = f"{name}/{version}" if version else name
            if result is None:
                _log.warning("Metric %r returned None; not logged", name)
            elif isinstance(result, (int, float)) or type(result).__module__ == "numpy":
                self.values[key] = MetricValue(aggregate_results={name: _plain(result)})
            elif all(hasattr(result, a) for a in ("scores", "justifications", "aggregate_results")):
                self.values[key] = MetricValue(result.scores, result.justifications,
                                               {k: _plain(v) for k, v in (result.aggregate_results or {}).items()}
                                               or None)
            else:
                _log.warning("Metric %r returned a %s, not a number or MetricValue; not logged", name,
                             type(result).__name__)

    def _custom_artifacts(self) -> None:
        if not self.custom_artifacts:
            return
        frame = self._eval_frame()
        for index, fn in enumerate(self.custom_artifacts):
            work = Path(tempfile.mkdtemp(prefix="custom-", dir=self.tmp))
            found = fn(frame.copy(), dict(self.aggregate()), str(work))
            if not isinstance(found, dict):
                _log.warning("custom_artifacts[%d] returned %s, not a dict of name -> artifact", index,
                             type(found).__name__)
                continue
            for name, value in found.items():
                self._custom_artifact(str(name), value, work)

    def _custom_artifact(self, name: str, value: Any, work: Path) -> None:
        import shutil

        import numpy as np
        import pandas as pd

        kinds = {".png": ImageEvaluationArtifact, ".jpg": ImageEvaluationArtifact, ".jpeg": ImageEvaluationArtifact,
                 ".json": JsonEvaluationArtifact, ".csv": CsvEvaluationArtifact}
        if isinstance(value, (str, Path)) and Path(value).is_file():
            src = Path(value).resolve()
            if not src.is_relative_to(work.resolve()):
                raise InvalidParameterError(f"Custom artifact {name!r} names {src}, outside its artifacts_dir")
            path = self._file(name, src.suffix)
            shutil.copyfile(src, path)
            kind = kinds.get(src.suffix.lower(), JsonEvaluationArtifact)
        elif isinstance(value, pd.DataFrame):
            path = self._file(name, ".csv")
            value.to_csv(path, index=False)
            kind = CsvEvaluationArtifact
        elif isinstance(value, np.ndarray):
            path = self._file(name, ".npy")
            np.save(path, value, allow_pickle=False)
            kind = EvaluationArtifact
        elif hasattr(value, "savefig"):
            path = self._file(name, ".png")
            value.savefig(path)
            kind = ImageEvaluationArtifact
        elif isinstance(value, (dict, list, str, int, float)):
            path = self._file(name, ".json")
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            kind = JsonEvaluationArtifact
        else:
            raise InvalidParameterError(f"Custom artifact {name!r} is a {type(value).__name__}: return a file path, "
                                        "a DataFrame, an ndarray, a figure or JSON-able data (no pickles)")
        self.files.append(path)
        self.artifacts[name] = kind(f"{self.artifact_uri}/{path.name}", local_path=path)

    def eval_table(self) -> None:
        """``eval_results_table.json`` when a metric gave per-row scores (MLflow's rule)."""
        if not any(v.scores is not None or v.justifications is not None for v in self.values.values()):
            return
        table = self.data.features.copy()
        if self.data.labels is not None:
            table[self.data.targets_name or "target"] = self.data.labels
        table[self.data.predictions_name or self.predictions_col or "outputs"] = self.y_pred
        for name, v in self.values.items():
            if v.scores is not None:
                table[f"{name}/score"] = v.scores
            if v.justifications is not None:
                table[f"{name}/justification"] = v.justifications
        path = self._file("eval_results_table", ".json")
        split = json.loads(table.to_json(orient="split", index=False))
        path.write_text(json.dumps({"columns": split["columns"], "data": split["data"]}))
        self.files.append(path)
        self.artifacts["eval_results_table"] = JsonEvaluationArtifact(f"{self.artifact_uri}/{path.name}",
                                                                      local_path=path)


def _resolve_config(evaluators: str | list[str] | None, evaluator_config: dict[str, Any] | None,
                    model_type: str | None) -> tuple[bool, dict[str, Any]]:
    """(whether a built-in evaluator applies, the config it uses) from MLflow's several spellings."""
    if evaluator_config is not None and not isinstance(evaluator_config, dict):
        raise InvalidParameterError("evaluator_config must be a dict")
    config = dict(evaluator_config or {})
    if evaluators is None:
        names: list[str] = []
        nested = any(k in EVALUATORS for k in config)
    elif isinstance(evaluators, str):
        names, nested = [evaluators], False
    elif isinstance(evaluators, (list, tuple)) and all(isinstance(e, str) for e in evaluators):
        names = list(evaluators)
        nested = bool(config)
        if nested and not all(k in names and isinstance(v, dict) for k, v in config.items()):
            raise InvalidParameterError("With a list of evaluators, evaluator_config maps each evaluator name to "
                                        "its own config dict")
    else:
        raise InvalidParameterError("evaluators must be an evaluator name, a list of names or None")
    unknown = [n for n in names if n not in EVALUATORS]
    if unknown:
        raise InvalidParameterError(f"Unknown evaluator(s) {unknown}: this build has {list(EVALUATORS)}")
    if nested:
        for key in (model_type, "default"):
            if key in config and isinstance(config[key], dict):
                config = dict(config[key])
                break
        else:
            config = {}
    applies = not names or any(n in ("default", model_type) for n in names)
    return applies, config


def evaluate(model: Any = None, data: Any = None, *, model_type: str | None = None, targets: Any = None,
             predictions: str | None = None, dataset_path: str | None = None,
             feature_names: Sequence[str] | None = None, evaluators: str | list[str] | None = None,
             evaluator_config: dict[str, Any] | None = None, extra_metrics: Sequence[Any] | None = None,
             custom_artifacts: Sequence[Callable[..., Any]] | None = None, env_manager: str = "local",
             model_config: dict[str, Any] | None = None, inference_params: dict[str, Any] | None = None,
             model_id: str | None = None) -> EvaluationResult:
    """Evaluate a model on labelled data with MLflow's default metrics and plots; log them to the active run
    (or a new one) and return them.

    Args:
        model: a model URI (``runs:/``, ``models:/``, a path), a loaded pyfunc model, a function taking the
            features DataFrame, or None (then ``predictions`` names the column of ``data`` holding outputs).
        data: a pandas DataFrame (features, the ``targets`` column, optionally ``predictions``), a 2-D numpy
            array or list of feature rows, or a pandas/numpy Dataset that names its targets.
        model_type: ``"classifier"`` or ``"regressor"`` (None: only ``extra_metrics``).
        targets: the label column's name (DataFrame) or the labels (array/list).
        predictions: the model-output column to evaluate when the model returns several, or the column of
            ``data`` holding outputs when there is no model.
        dataset_path: recorded in the ``mlflow.datasets`` run tag.
        feature_names: the feature columns (DataFrame) or names for the array's columns.
        evaluators: ``None``/``"default"`` (the evaluator of ``model_type``), ``"classifier"``,
            ``"regressor"``, or a list; ``"shap"`` is accepted and skipped.
        evaluator_config: ``pos_label``, ``label_list``, ``average``, ``sample_weights``, ``metric_prefix``,
            ``max_classes_for_multiclass_roc_pr``, ``calibration_n_bins``, ``col_mapping``...; flat, or nested
            per evaluator name.
        extra_metrics: metrics made with :func:`~tureen.evaluation.make_metric`.
        custom_artifacts: functions ``(eval_df, builtin_metrics, artifacts_dir) -> {name: artifact}``.
        env_manager: only ``"local"`` (the model runs in this process).
        model_config: passed to ``pyfunc.load_model`` when ``model`` is a URI.
        inference_params: not supported (MLflow uses it for deployment endpoints only).
        model_id: the logged model the metrics belong to (default: the one the model URI names).

    Returns:
        An :class:`~tureen.evaluation.EvaluationResult`: ``metrics`` (MLflow's names: ``accuracy_score``,
        ``f1_score``, ``roc_auc``, ``mean_squared_error``, ``r2_score``...), ``artifacts`` (``confusion_matrix``,
        ``roc_curve_plot``...) and ``run_id``.

    Raises:
        InvalidParameterError: bad arguments (no targets for a classifier, an unknown evaluator, ...).
        ModelPredictionError: the model raised while predicting.

    Example:
        >>> result = evaluate(model_uri, df, targets="label", model_type="classifier")  # doctest: +SKIP
        >>> result.metrics["accuracy_score"]  # doctest: +SKIP
        0.957
    """
    if data is None:
        raise InvalidParameterError("data= is required (a DataFrame, an array or list of rows, or a Dataset)")
    if model_type is not None and model_type not in MODEL_TYPES:
        raise InvalidParameterError(f"model_type {model_type!r} is not supported: use one of {list(MODEL_TYPES)} "
                                    "(or None with extra_metrics)")
    if model_type is None and not extra_metrics:
        raise InvalidParameterError("With model_type=None, give extra_metrics (there is nothing else to compute)")
    if env_manager != "local":
        raise InvalidParameterError(f"env_manager={env_manager!r} is not supported: evaluate runs the model in this "
                                    "process (env_manager='local')")
    if inference_params is not None:
        raise InvalidParameterError("inference_params= applies to deployment endpoints, which tureen does not "
                                    "evaluate")
    applies, config = _resolve_config(evaluators, evaluator_config, model_type)
    if not applies:
        raise InvalidParameterError("None of the evaluators given can evaluate this model type "
                                    f"({model_type!r}); use evaluators='default'")
    mapping = config.get("col_mapping") or {}
    if isinstance(targets, str):
        targets = mapping.get(targets, targets)
    if isinstance(predictions, str):
        predictions = mapping.get(predictions, predictions)
    prepared_model = _prepare_model(model, model_config)
    prepared = _prepare_data(data, targets, predictions, feature_names, dataset_path,
                             has_model=prepared_model.predict is not None)
    if prepared_model.predict is None and prepared.predictions is None:
        raise InvalidParameterError("Give a model, or predictions= naming the column of data that holds the "
                                    "model's outputs")
    model_id = model_id or prepared_model.model_id
    with _run() as run, tempfile.TemporaryDirectory(prefix="tureen-eval-") as tmp:
        run_id = run.info.run_id
        ev = _Evaluation(prepared, prepared_model, model_type, config, extra_metrics or [], custom_artifacts,
                         predictions if prepared_model.predict is not None else None, Path(tmp),
                         run.info.artifact_uri)
        ev.run()
        ev.eval_table()
        metrics = {f"{ev.prefix}{k}": v for k, v in ev.aggregate().items()}
        _log_all(run_id, prepared, prepared_model, model_id, metrics, ev, config)
        # the local copies are about to go: keep contents that are cheap to hold, drop the paths
        for art in ev.artifacts.values():
            if art._content is None and isinstance(art, (CsvEvaluationArtifact, JsonEvaluationArtifact)):
                with contextlib.suppress(Exception):
                    art._content = art._read(art._local_path)
            art._local_path = None
    return EvaluationResult(metrics, ev.artifacts, run_id)


def _log_all(run_id: str, data: _Data, model: _Model, model_id: str | None, metrics: dict[str, Any],
             ev: _Evaluation, config: dict[str, Any]) -> None:
    from tureen.tracking import fluent
    from tureen.tracking.entities import Metric, RunTag

    client = fluent._client()
    # the dataset: a run input (as MLflow's log_inputs) and the "mlflow.datasets" tag
    record = None
    if data.entity is not None and hasattr(data.entity, "_to_mlflow_entity"):
        record = data.entity._to_mlflow_entity()
    else:
        from tureen.autolog._common import dataset_record

        source = data.source
        record = dataset_record(*source) if isinstance(source, tuple) else dataset_record(source)
    tags: dict[str, str] = {}
    prefix = config.get("metric_prefix")
    if prefix:
        tags["mlflow.data.context"] = prefix
    if record is not None:
        models = [model_id] if model_id else None
        try:
            client.log_inputs(run_id, datasets=[{"dataset": record, "tags": tags}], models=models)
        except TureenError:
            client.log_inputs(run_id, datasets=[{"dataset": record, "tags": tags}])
    batch_tags = []
    if model.model_uuid is not None:
        existing = json.loads(client.get_run(run_id).data.tags.get("mlflow.datasets", "[]") or "[]")
        entry = {"name": data.name, "hash": data.hash}
        if data.path is not None:
            entry["path"] = data.path
        if not any(e.get("hash") == data.hash and e.get("name") == data.name and e.get("model") == model.model_uuid
                   for e in existing):
            existing.append({**entry, "model": model.model_uuid})
        batch_tags.append(RunTag("mlflow.datasets", json.dumps(existing, separators=(",", ":"))))
    now = int(time.time() * 1000)
    batch = [Metric(k, float(v), now, 0, run_id, model_id) for k, v in metrics.items()]
    client.log_batch(run_id, metrics=batch, tags=batch_tags)
    for path in ev.files:
        client.log_artifact(run_id, str(path))
