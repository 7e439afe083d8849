"""scikit-learn autologging: ``fit`` of estimators, pipelines and parameter searches, and post-training metrics.

What is recorded follows MLflow 3.x (see ``docs/autolog.md``): the estimator's params, ``training_*`` metrics
by task type, ``estimator_name``/``estimator_class`` tags, ``estimator.html``, a classifier's confusion matrix
(and ROC and precision-recall curves for two classes) as PNG plots when matplotlib is installed, the model (signature inferred
from the first rows of the training data), a parent run with ``best_*`` params, ``best_cv_score``,
``cv_results.csv`` and child runs for ``GridSearchCV``/``RandomizedSearchCV``, and metrics computed later
with ``sklearn.metrics`` functions or ``model.score`` on the fitted model's predictions.

Estimator classes are found by walking ``BaseEstimator``'s subclasses, now and after every later import of a
``sklearn`` submodule, instead of importing all of scikit-learn (``all_estimators()`` takes seconds).
"""

from __future__ import annotations

import inspect
import sys
import threading
import weakref
from collections import defaultdict
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._common import (RunLogger, example_and_signature, head, log_dataset, log_model)
from tureen.autolog._patch import disable_autologging, get_config, safe_patch, warn_once
from tureen.autolog._plots import log_classifier_plots
from tureen.exceptions import InvalidParameterError

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS"]

FLAVOR_NAME = "sklearn"
TESTED_VERSIONS = ("1.3.0", "1.9.1")
TRAINING_PREFIX = "training_"
_EXCLUDED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
                     "sklearn.feature_selection")
_EXCLUDED_CLASSES = {"sklearn.compose._column_transformer.ColumnTransformer"}
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_PREDICT_METHODS = ("predict", "predict_proba", "transform", "predict_log_proba")
_NO_AUTOLOG_FUNCS = ("cross_validate", "cross_val_predict", "cross_val_score", "learning_curve",
                     "permutation_test_score", "validation_curve")
_METRIC_EXCLUDED = {"check_scoring", "get_scorer", "make_scorer", "get_scorer_names"}


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True, log_models: bool = True,
            log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False, max_tuning_runs: int | None = 5,
            log_post_training_metrics: bool = True, serialization_format: str | None = None,
            registered_model_name: str | None = None, pos_label: Any = None,
            extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or, with ``disable=True``, off) autologging for scikit-learn.

    Args:
        log_input_examples: save the first 5 training rows with the model.
        log_model_signatures: infer the model signature from the training rows and the model's predictions.
        log_models: log the fitted estimator as the run's model ``model``.
        log_datasets: record the training (and later evaluation) datasets, where the store keeps them.
        disable: restore every patched function and stop autologging.
        exclusive: do not log into runs the user started.
        disable_for_unsupported_versions: stay off when scikit-learn is outside the tested range.
        silent: no warnings from autologging.
        max_tuning_runs: child runs for the best k candidates of a parameter search (``None``: all).
        log_post_training_metrics: log ``sklearn.metrics`` results computed on the model's predictions.
        serialization_format: ``None`` (skops when the estimator round-trips with it, else cloudpickle),
            ``"skops"``, ``"cloudpickle"`` or ``"pickle"``.
        registered_model_name: register each logged model as a new version of this name.
        pos_label: positive label for binary precision/recall/f1 (``average="binary"``).
        extra_tags: tags added to the runs autologging creates.

    Example:
        >>> import tureen.flavors.sklearn  # doctest: +SKIP
        >>> tureen.flavors.sklearn.autolog(max_tuning_runs=3)  # doctest: +SKIP
    """
    from tureen._optional import import_optional

    if max_tuning_runs is not None and (not isinstance(max_tuning_runs, int) or max_tuning_runs < 0):
        raise InvalidParameterError(f"max_tuning_runs must be a non-negative integer or None, got "
                                    f"{max_tuning_runs!r}")
    if serialization_format not in (None, "skops", "cloudpickle", "pickle"):
        raise InvalidParameterError(f"Unknown serialization_format {serialization_format!r}; choose one of "
                                    "skops, cloudpickle, pickle")
    config = dict(log_input_examples=log_input_examples, log_model_signatures=log_model_signatures,
                  log_models=log_models, log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                  max_tuning_runs=max_tuning_runs, log_post_training_metrics=log_post_training_metrics,
                  serialization_format=serialization_format, registered_model_name=registered_model_name,
                  pos_label=pos_label, extra_tags=extra_tags)
    _teardown()
    if disable:
        return
    sklearn = import_optional("sklearn", "sklearn autologging")
    _patch.configure(FLAVOR_NAME, config)
    if not _patch.check_version(FLAVOR_NAME, "scikit-learn", sklearn.__version__, TESTED_VERSIONS) \
            and disable_for_unsupported_versions:
        _patch.configure(FLAVOR_NAME, None)
        return
    _patch.when_imported("sklearn.", _on_sklearn_import, prefix=True)
    _on_sklearn_import(None)
    if "sklearn.metrics" in sys.modules:
        _patch_metrics(sys.modules["sklearn.metrics"])
    if "sklearn.model_selection" in sys.modules:
        _patch_model_selection(sys.modules["sklearn.model_selection"])


def _teardown() -> None:
    _patch.remove_hooks([_on_sklearn_import])
    _patch.revert_patches(FLAVOR_NAME)
    _patch.configure(FLAVOR_NAME, None)
    POST_TRAINING.clear()


def _on_sklearn_import(module: Any) -> None:
    name = getattr(module, "__name__", "")
    if name == "sklearn.metrics":
        _patch_metrics(module)
    elif name == "sklearn.model_selection":
        _patch_model_selection(module)
    base = sys.modules.get("sklearn.base")
    if base is None or not hasattr(base, "BaseEstimator"):
        return
    for cls in _estimator_classes(base.BaseEstimator):
        patch_estimator_class(FLAVOR_NAME, cls, _patched_fit, allow_children=False)


def _estimator_classes(base: type) -> list[type]:
    seen: set[type] = set()
    todo = [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    out = []
    for cls in seen:
        mod = cls.__module__
        if not mod.startswith("sklearn.") or ".tests" in mod or cls.__name__.startswith("_"):
            continue
        if mod.startswith(_EXCLUDED_MODULES) or f"{mod}.{cls.__name__}" in _EXCLUDED_CLASSES:
            continue
        if inspect.isabstract(cls):
            continue
        out.append(cls)
    return out


def _patch_attr(flavor: str, cls: type, name: str, patch_fn: Callable[..., Any], **kw: Any) -> None:
    raw = inspect.getattr_static(cls, name, None)
    if raw is None:
        return
    if inspect.isfunction(raw):
        safe_patch(flavor, cls, name, patch_fn, **kw)
    elif inspect.isfunction(getattr(raw, "fn", None)):  # sklearn's available_if descriptor: patch its function
        safe_patch(flavor, raw, "fn", patch_fn, session_key=kw.pop("session_key", cls), **kw)


def patch_estimator_class(flavor: str, cls: type, fit_patch: Callable[..., Any], *, allow_children: bool) -> None:
    """Patch the training, inference and scoring methods of one estimator class for ``flavor``."""
    for name in _FIT_METHODS:
        _patch_attr(flavor, cls, name, fit_patch, training=True, allow_children=allow_children)
    for name in _PREDICT_METHODS:
        _patch_attr(flavor, cls, name, _patched_predict)
    _patch_attr(flavor, cls, "score", _patched_score)


def _patch_metrics(metrics: Any) -> None:
    if not get_config(FLAVOR_NAME, "log_post_training_metrics", True):
        return
    for name in getattr(metrics, "__all__", []):
        fn = getattr(metrics, name, None)
        if name in _METRIC_EXCLUDED or name.startswith("plot_") or not inspect.isfunction(fn):
            continue
        safe_patch(FLAVOR_NAME, metrics, name, _patched_metric)
    scorers = getattr(sys.modules.get("sklearn.metrics._scorer"), "_SCORERS", {})
    for scorer in list(scorers.values()):
        if inspect.isfunction(getattr(scorer, "_score_func", None)):
            safe_patch(FLAVOR_NAME, scorer, "_score_func", _patched_metric)


def _patch_model_selection(ms: Any) -> None:
    def without_autolog(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with disable_autologging():
            return original(*args, **kwargs)

    for name in _NO_AUTOLOG_FUNCS:
        if hasattr(ms, name):
            safe_patch(FLAVOR_NAME, ms, name, without_autolog)


# ------------------------------------------------------------------------------------------------
# fit


def X_y_sample_weight(fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(X, y, sample_weight) of a ``fit(X, y, sample_weight=...)`` call (by position or name)."""
    try:
        names = [n for n in inspect.signature(fit).parameters if n != "self"]
    except (TypeError, ValueError):
        names = ["X", "y"]
    x_name, y_name = (names + ["X", "y"])[:2]
    X = args[0] if len(args) > 0 else kwargs.get(x_name)
    y = args[1] if len(args) > 1 else kwargs.get(y_name)
    sw = None
    if "sample_weight" in names:
        i = names.index("sample_weight")
        sw = args[i] if len(args) > i else kwargs.get("sample_weight")
    return X, y, sw


def is_search(estimator: Any) -> bool:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def _patched_fit(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    run_id = _patch.active_run_id()
    X, y, sample_weight = X_y_sample_weight(original, args, kwargs)
    logger = RunLogger(FLAVOR_NAME, run_id)
    logger.log_params(self.get_params(deep=not is_search(self)))
    logger.set_tags(estimator_tags(self))
    logger.flush()
    log_dataset(FLAVOR_NAME, run_id, X, y, context="train")
    try:
        example_rows = head(X)
    except Exception as exc:  # noqa: BLE001 - reported when the example is needed
        example_rows = exc
    result = original(self, *args, **kwargs)
    with disable_autologging():  # our own predict/metric calls are not "post-training" calls
        _log_posttraining(self, run_id, logger, X, y, sample_weight, example_rows)
    if get_config(FLAVOR_NAME, "log_post_training_metrics", True):
        POST_TRAINING.register_model(self, run_id)
    return result


def _get_example(rows: Any) -> Callable[[], Any]:
    def get() -> Any:
        if isinstance(rows, Exception):
            raise rows
        return rows

    return get


def log_sklearn_model(flavor: str, estimator: Any, name: str, signature: Any, example: Any, **extra: Any) -> Any:
    """Log an sklearn estimator; skops when it round-trips (else cloudpickle, quietly), unless configured."""
    from tureen.flavors import sklearn as sk_flavor

    fmt = get_config(FLAVOR_NAME, "serialization_format") if flavor == FLAVOR_NAME else None
    if fmt is not None:
        return log_model(flavor, sk_flavor.log_model, estimator, name=name, signature=signature,
                         input_example=example, serialization_format=fmt, **extra)
    try:
        return log_model(flavor, sk_flavor.log_model, estimator, name=name, signature=signature,
                         input_example=example, serialization_format="skops", **extra)
    except InvalidParameterError as exc:
        if "skops cannot save" not in str(exc):
            raise
    return log_model(flavor, sk_flavor.log_model, estimator, name=name, signature=signature,
                     input_example=example, serialization_format="cloudpickle", **extra)


def _signature_predict(estimator: Any) -> Callable[[Any], Any] | None:
    if hasattr(estimator, "predict"):
        return estimator.predict
    if hasattr(estimator, "transform"):
        return estimator.transform
    return None


def _log_posttraining(est: Any, run_id: str, logger: RunLogger, X: Any, y: Any, sample_weight: Any,
                      example_rows: Any) -> None:
    from sklearn.base import is_classifier

    cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
    model_id = None
    example = signature = None
    if cfg.get("log_models", True):
        example, signature = example_and_signature(FLAVOR_NAME, _get_example(example_rows),
                                                   _signature_predict(est), cfg.get("log_input_examples", False),
                                                   cfg.get("log_model_signatures", True))
        if hasattr(est, "best_params_"):  # the model carries the search's best params too (MLflow does)
            logger.log_params({f"best_{k}": v for k, v in est.best_params_.items()})
            logger.flush()
        info = log_sklearn_model(FLAVOR_NAME, est, "model", signature, example)
        model_id = getattr(info, "model_id", None) or str(info.model_uri).split("/")[-1]
        POST_TRAINING.record_model_id(est, model_id)
    predictions: dict[str, Any] = {}
    metrics = training_metrics(est, X, y, sample_weight, cfg.get("pos_label"), predictions=predictions)
    logger.log_metrics(metrics, model_id=model_id)
    logger.flush()
    log_estimator_html(run_id, est)
    if y is not None and is_classifier(est):
        log_classifier_plots(FLAVOR_NAME, run_id, est, X, y, sample_weight, TRAINING_PREFIX, **predictions)
    if y is None and not metrics:
        warn_once(FLAVOR_NAME, "training metrics are not recorded because fit() got no labels", key="no-labels")
    if is_search(est):
        _log_search(est, run_id, logger, model_id, signature, example)


def log_estimator_html(run_id: str, est: Any) -> None:
    from sklearn.utils import estimator_html_repr

    from tureen.tracking import fluent

    html = ("<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"UTF-8\"/>\n  </head>\n  <body>\n"
            f"    {estimator_html_repr(est)}\n  </body>\n</html>\n")
    fluent._client().log_text(run_id, html, "estimator.html")


def _safe_metric(out: dict[str, Any], key: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
    try:
        out[key] = fn(*args, **kw)
    except Exception as exc:  # noqa: BLE001 - one metric failing skips that metric (as in MLflow)
        warn_once(FLAVOR_NAME, f"{fn.__name__} failed; the metric {key} is not recorded ({exc})", key=key)


def training_metrics(est: Any, X: Any, y: Any, sample_weight: Any, pos_label: Any,
                     prefix: str = TRAINING_PREFIX, predictions: dict[str, Any] | None = None) -> dict[str, Any]:
    """MLflow's training metrics of a fitted classifier or regressor, plus ``<prefix>score``.

    A classifier's ``predict``/``predict_proba`` results are left in ``predictions`` (keys ``y_pred``,
    ``proba``) when given, for the plots drawn next.
    """
    import numpy as np
    from sklearn import metrics as m
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, Any] = {}
    if y is None:
        return out
    try:
        if is_classifier(est):
            y_pred = est.predict(X)
            if predictions is not None:
                predictions["y_pred"] = y_pred
            average = "weighted" if pos_label is None else "binary"
            for name, fn in (("precision_score", m.precision_score), ("recall_score", m.recall_score),
                             ("f1_score", m.f1_score)):
                _safe_metric(out, prefix + name, fn, y, y_pred, pos_label=pos_label, average=average,
                             sample_weight=sample_weight)
            _safe_metric(out, prefix + "accuracy_score", m.accuracy_score, y, y_pred, normalize=True,
                         sample_weight=sample_weight)
            if hasattr(est, "predict_proba"):
                proba = est.predict_proba(X)
                if predictions is not None:
                    predictions["proba"] = proba
                _safe_metric(out, prefix + "log_loss", m.log_loss, y, proba,
                             sample_weight=sample_weight)
                score = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
                _safe_metric(out, prefix + "roc_auc", m.roc_auc_score, y, score, average="weighted",
                             sample_weight=sample_weight, multi_class="ovo")
        elif is_regressor(est):
            y_pred = est.predict(X)
            for name, fn in (("mean_squared_error", m.mean_squared_error),
                             ("mean_absolute_error", m.mean_absolute_error), ("r2_score", m.r2_score)):
                _safe_metric(out, prefix + name, fn, y, y_pred, sample_weight=sample_weight,
                             multioutput="uniform_average")
            if prefix + "mean_squared_error" in out:
                out[prefix + "root_mean_squared_error"] = float(np.sqrt(out[prefix + "mean_squared_error"]))
    except Exception as exc:  # noqa: BLE001
        warn_once(FLAVOR_NAME, f"could not compute training metrics for {type(est).__name__} ({exc})",
                  key="training-metrics")
    if hasattr(est, "score"):
        try:
            names = list(inspect.signature(est.score).parameters)
            args = (X, y, sample_weight) if "sample_weight" in names else (X, y)
            out[prefix + "score"] = est.score(*args)
        except Exception as exc:  # noqa: BLE001
            warn_once(FLAVOR_NAME, f"{type(est).__name__}.score failed; {prefix}score is not recorded ({exc})",
                      key="score")
    return out


def _log_search(est: Any, run_id: str, logger: RunLogger, model_id: str | None, signature: Any,
                example: Any) -> None:
    import tempfile
    from pathlib import Path

    import pandas as pd

    from tureen.tracking import fluent

    cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
    best_model_id = None
    if hasattr(est, "best_estimator_") and cfg.get("log_models", True):
        info = log_sklearn_model(FLAVOR_NAME, est.best_estimator_, "best_estimator", signature, example)
        best_model_id = getattr(info, "model_id", None)
    if hasattr(est, "best_score_"):
        logger.log_metrics({"best_cv_score": est.best_score_}, model_id=model_id)
    if hasattr(est, "best_params_"):
        logger.log_params({f"best_{k}": v for k, v in est.best_params_.items()})
    logger.flush()
    if not hasattr(est, "cv_results_"):
        return
    results = pd.DataFrame.from_dict(est.cv_results_)
    try:
        _child_runs(est, results, run_id, cfg.get("max_tuning_runs", 5), best_model_id)
    except Exception as exc:  # noqa: BLE001
        warn_once(FLAVOR_NAME, f"could not create the child runs of the parameter search ({exc})", key="children")
    with tempfile.TemporaryDirectory(prefix="tureen-autolog-") as tmp:
        path = Path(tmp) / "cv_results.csv"
        results.to_csv(path, index=False)
        fluent._client().log_artifact(run_id, str(path))


def _child_runs(est: Any, results: Any, parent_id: str, max_runs: int | None, best_model_id: str | None) -> None:
    from numbers import Number

    from tureen.tracking import fluent
    from tureen.tracking.entities import Metric

    client = fluent._client()
    parent = client.get_run(parent_id)
    if max_runs is None:
        best = results
    else:
        rank = "rank_test_score"
        if rank not in results.columns:
            rank = next((c for c in results.columns if str(c).startswith("rank_test_")), None)
            if rank is None:
                return
            warn_once(FLAVOR_NAME, f"the best {max_runs} child runs are chosen by the {rank} column",
                      key="rank-column")
        best = results.nsmallest(max_runs, rank)
        _patch.info(FLAVOR_NAME, "Logging %d of %d parameter search candidates as child runs",
                    min(max_runs, len(results)), len(results))
    seed = est.estimator
    base_params = seed.get_params(deep=not is_search(seed))
    best_params = est.best_estimator_.get_params(deep=True) if hasattr(est, "best_estimator_") else None
    tags = dict(fluent._source_tags())
    tags.update({_patch.AUTOLOGGING_TAG: FLAVOR_NAME, "mlflow.parentRunId": parent_id, **estimator_tags(seed)})
    end = _now_ms()
    for _, row in best.iterrows():
        child = client.create_run(parent.info.experiment_id, start_time=parent.info.start_time, tags=tags)
        params = dict(base_params)
        params.update(row.get("params", {}) or {})
        cand = row.get("params", {}) or {}
        model_id = best_model_id if best_params and all(best_params.get(k, object()) == v
                                                        for k, v in cand.items()) else None
        metrics = [Metric(str(k), float(v), end, 0, model_id=model_id) for k, v in row.items()
                   if not str(k).startswith(("param", "split")) and isinstance(v, Number) and not isinstance(v, bool)]
        child_logger = RunLogger(FLAVOR_NAME, child.info.run_id)
        child_logger.log_params(params)
        child_logger.flush()
        client.log_batch(child.info.run_id, metrics=metrics)
        client.set_terminated(child.info.run_id, "FINISHED", end_time=end)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


# ------------------------------------------------------------------------------------------------
# post-training metrics


def _is_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _user_var_name(obj: Any, fallback: str) -> str:
    """The name of the caller's variable holding ``obj`` (the first frame outside tureen/sklearn/frameworks)."""
    frame = sys._getframe(1)
    skip = ("tureen.autolog", "sklearn", "functools", "xgboost", "lightgbm", "numpy", "pandas", "scipy")
    try:
        while frame is not None:
            mod = frame.f_globals.get("__name__", "")
            if not any(mod == p or mod.startswith(p + ".") for p in skip):
                for name, value in frame.f_locals.items():
                    if value is obj and not name.startswith("_"):
                        return name
                return fallback
            frame = frame.f_back
        return fallback
    finally:
        del frame


def _arg_str(arg: Any) -> str:
    import numpy as np

    if arg is None or np.isscalar(arg):
        if isinstance(arg, str) and len(arg) > 32:
            return repr(arg[:32] + "...")
        return repr(arg)
    return _user_var_name(arg, f"<{type(arg).__name__}>")


class _PostTraining:
    """Which fitted model and run each prediction came from, so that metrics on it land in that run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.models: dict[int, tuple[str, str | None]] = {}  # id(model) -> (run_id, model_id)
        self.model_ids: dict[int, str] = {}
        self.results: dict[int, tuple[str, str, str | None]] = {}  # id(prediction) -> (dataset, run, model id)
        self.datasets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.calls: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))

    def record_model_id(self, model: Any, model_id: str | None) -> None:
        if model_id:
            self.model_ids[id(model)] = model_id

    def register_model(self, model: Any, run_id: str) -> None:
        key = id(model)
        self.models[key] = (run_id, self.model_ids.get(key))
        try:
            weakref.finalize(model, self._forget_model, key)
        except TypeError:
            pass

    def _forget_model(self, key: int) -> None:
        self.models.pop(key, None)
        self.model_ids.pop(key, None)

    def run_of(self, model: Any) -> tuple[str, str | None] | None:
        return self.models.get(id(model))

    def dataset_name(self, run_id: str, data: Any) -> str:
        name = _user_var_name(data, "unknown_dataset")
        ids = self.datasets[run_id][name]
        if id(data) in ids:
            index = ids.index(id(data))
        else:
            ids.append(id(data))
            index = len(ids) - 1
        return name if index == 0 else f"{name}-{index + 1}"

    def register_result(self, result: Any, dataset: str, run_id: str, model_id: str | None) -> None:
        key = id(result)
        try:
            weakref.finalize(result, self.results.pop, key, None)
        except TypeError:  # not weak-referenceable: an id could be reused, so do not track it
            return
        self.results[key] = (dataset, run_id, model_id)

    def find_result(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str, str | None] | None:
        import numpy as np

        for arg in list(args) + list(kwargs.values()):
            if arg is not None and not np.isscalar(arg) and id(arg) in self.results:
                return self.results[id(arg)]
        return None

    def log(self, run_id: str, metric_name: str, dataset: str, command: str, value: Any,
            model_id: str | None) -> None:
        from tureen.tracking import fluent

        with self._lock:
            calls = self.calls[run_id][metric_name]
            index = len(calls)
            key = f"{metric_name if index == 0 else f'{metric_name}-{index + 1}'}_{dataset}"
            calls.append((key, command))
            info = dict(sorted(kv for lst in self.calls[run_id].values() for kv in lst))
        client = fluent._client()
        client.log_metric(run_id, key, float(value), model_id=model_id)
        client.log_dict(run_id, info, "metric_info.json")


POST_TRAINING = _PostTraining()


def _post_training_on() -> bool:
    return get_config(FLAVOR_NAME, "log_post_training_metrics", True) and _patch.current_session() is None


def _patched_predict(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    entry = POST_TRAINING.run_of(self)
    if entry is None or not _post_training_on():
        return original(self, *args, **kwargs)
    with disable_autologging():
        result = original(self, *args, **kwargs)
    data = args[0] if args else next(iter(kwargs.values()), None)
    run_id, _ = entry
    dataset = POST_TRAINING.dataset_name(run_id, data)
    POST_TRAINING.register_result(result, dataset, run_id, POST_TRAINING.model_ids.get(id(self)))
    flavor = FLAVOR_NAME if _patch.is_enabled(FLAVOR_NAME) else next(iter(_patch._CONFIGS), FLAVOR_NAME)
    if data is not None and get_config(flavor, "log_datasets", True):
        log_dataset(flavor, run_id, data, context="eval")
    return result


def _call_command(fn: Callable[..., Any], owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    if owner is not None and names:
        names = names[1:]
    call = f"{type(owner).__name__}.{fn.__name__}" if owner is not None else fn.__name__
    parts = [f"{n}={_arg_str(a)}" for n, a in zip(names, args)]
    parts += [f"{k}={_arg_str(v)}" for k, v in kwargs.items()]
    return f"{call}({', '.join(parts)})"


def _patched_metric(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if not _post_training_on():
        return original(*args, **kwargs)
    with disable_autologging():  # a metric calling another metric logs once
        value = original(*args, **kwargs)
    if _is_number(value):
        found = POST_TRAINING.find_result(args, kwargs)
        if found is not None:
            dataset, run_id, model_id = found
            fn = inspect.unwrap(original)
            POST_TRAINING.log(run_id, fn.__name__, dataset, _call_command(fn, None, args, kwargs), value, model_id)
    return value


def _patched_score(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    entry = POST_TRAINING.run_of(self)
    if entry is None or not _post_training_on():
        return original(self, *args, **kwargs)
    with disable_autologging():
        value = original(self, *args, **kwargs)
    if _is_number(value):
        run_id, _ = entry
        data = args[0] if args else next(iter(kwargs.values()), None)
        dataset = POST_TRAINING.dataset_name(run_id, data)
        POST_TRAINING.log(run_id, f"{type(self).__name__}_score", dataset,
                          _call_command(inspect.unwrap(original), self, args, kwargs), value,
                          POST_TRAINING.model_ids.get(id(self)))
    return value


# ------------------------------------------------------------------------------------------------
# the scikit-learn API of XGBoost and LightGBM: params here, metrics in the patched train(), model here


def wrapper_fit_patch(flavor: str, log_fn: Callable[..., Any],
                      model_options: Callable[[], dict[str, Any]]) -> Callable[..., Any]:
    """The ``fit`` patch of XGBoost/LightGBM estimators: params and tags before training, the model after;
    the library's ``train()`` (patched too) logs metrics, datasets and feature importance."""

    def patched_fit(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        run_id = _patch.active_run_id()
        X, _y, _sw = X_y_sample_weight(original, args, kwargs)
        logger = RunLogger(flavor, run_id)
        params = self.get_params(deep=True)
        logger.log_params(params)
        logger.set_tags(estimator_tags(self))
        logger.flush()
        session = _patch.current_session()
        if session is not None:
            session.data["logged_params"] = {str(k) for k in params}
        try:
            rows = head(X)
        except Exception as exc:  # noqa: BLE001
            rows = exc
        result = original(self, *args, **kwargs)
        cfg = _patch._CONFIGS.get(flavor, {})
        with disable_autologging():
            model_id = None
            if cfg.get("log_models", True):
                example, signature = example_and_signature(flavor, _get_example(rows), self.predict,
                                                           cfg.get("log_input_examples", False),
                                                           cfg.get("log_model_signatures", True))
                info = log_model(flavor, log_fn, self, signature=signature, input_example=example,
                                 **model_options())
                model_id = getattr(info, "model_id", None)
                POST_TRAINING.record_model_id(self, model_id)
        POST_TRAINING.register_model(self, run_id)
        return result

    return patched_fit


def patch_wrapper_classes(flavor: str, classes: list[type], log_fn: Callable[..., Any],
                          model_options: Callable[[], dict[str, Any]]) -> None:
    fit = wrapper_fit_patch(flavor, log_fn, model_options)
    for cls in classes:
        patch_estimator_class(flavor, cls, fit, allow_children=True)
