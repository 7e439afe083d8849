"""XGBoost autologging: ``xgboost.train`` and the scikit-learn API (``XGBClassifier.fit`` ...).

Recorded as MLflow 3.x does: the booster params and ``train()`` arguments, per-round eval metrics
``<eval name>-<metric>`` (step = round), ``stopped_iteration``/``best_iteration`` and the best round's
metrics again at step = number of rounds when early stopping is on, ``feature_importance_<type>.json``
(and ``.png`` when matplotlib is installed), the datasets, and the model (``model_format``, UBJSON by default).
"""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._common import (RunLogger, begin_training, captured_example, example_and_signature,
                                    example_capturing_init, log_dataset, log_model)
from tureen.autolog._patch import disable_autologging, get_config, safe_patch
from tureen.autolog._plots import feature_importance_png
from tureen.exceptions import InvalidParameterError

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS"]

FLAVOR_NAME = "xgboost"
TESTED_VERSIONS = ("2.0.0", "3.2.0")
_UNLOGGED = ["params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model", "callbacks",
             "learning_rates"]


def autolog(importance_types: list[str] | None = None, log_input_examples: bool = False,
            log_model_signatures: bool = True, log_models: bool = True, log_datasets: bool = True,
            disable: bool = False, exclusive: bool = False, disable_for_unsupported_versions: bool = False,
            silent: bool = False, registered_model_name: str | None = None, model_format: str = "ubj",
            extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or off) autologging for XGBoost.

    Args:
        importance_types: feature-importance types logged as ``feature_importance_<type>.json`` and, when
            matplotlib is installed, ``feature_importance_<type>.png`` (default ``["weight"]``).
        model_format: ``"ubj"`` (default) or ``"json"``.
        (others): as :func:`tureen.autolog`.

    Example:
        >>> import tureen.flavors.xgboost  # doctest: +SKIP
        >>> tureen.flavors.xgboost.autolog(importance_types=["weight", "gain"])  # doctest: +SKIP
    """
    if model_format not in ("ubj", "json"):
        raise InvalidParameterError(f"Unknown model_format {model_format!r}; choose ubj or json")
    config = dict(importance_types=list(importance_types or ["weight"]), log_input_examples=log_input_examples,
                  log_model_signatures=log_model_signatures, log_models=log_models, log_datasets=log_datasets,
                  exclusive=exclusive, silent=silent, registered_model_name=registered_model_name,
                  model_format=model_format, extra_tags=extra_tags)
    xgb = _patch.start(FLAVOR_NAME, "xgboost", "xgboost autologging", config, disable=disable,
                         disable_for_unsupported_versions=disable_for_unsupported_versions,
                         tested=TESTED_VERSIONS)
    if xgb is None:
        return
    import xgboost.sklearn

    safe_patch(FLAVOR_NAME, xgb, "train", _patched_train(True), training=True, session_key="xgboost.train")
    safe_patch(FLAVOR_NAME, xgboost.sklearn, "train", _patched_train(False), training=True,
               session_key="xgboost.train")
    safe_patch(FLAVOR_NAME, xgb.DMatrix, "__init__", example_capturing_init("DMatrix"))
    from tureen.autolog._sklearn import patch_wrapper_classes
    from tureen.flavors import xgboost as xgb_flavor

    classes = [c for c in vars(xgboost.sklearn).values() if inspect.isclass(c)
               and issubclass(c, xgboost.sklearn.XGBModel) and c is not xgboost.sklearn.XGBModel]
    patch_wrapper_classes(FLAVOR_NAME, classes, xgb_flavor.log_model,
                          lambda: {"model_format": get_config(FLAVOR_NAME, "model_format", "ubj")})


def _dmatrix_data(dmatrix: Any) -> Any:
    data = dmatrix.get_data()  # CSR matrix of the features
    return data.toarray() if hasattr(data, "toarray") else data


def _metric_callback(xgb: Any, logger: RunLogger, results: list[dict[str, float]]) -> Any:
    class _TureenCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            row: dict[str, float] = {}
            for data, metrics in evals_log.items():
                for metric, values in metrics.items():
                    value = values[-1]
                    row[f"{data}-{metric}"] = float(value[0] if isinstance(value, tuple) else value)
            results.append(row)
            logger.log_metrics(row, step=epoch)
            if len(logger._metrics) >= 1000:
                logger.flush()
            return False

    return _TureenCallback()


def _patched_train(log_models: bool) -> Callable[..., Any]:
    def patched(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import xgboost as xgb

        run_id, bound, logger = begin_training(FLAVOR_NAME, original, args, kwargs, _UNLOGGED)
        arguments = bound.arguments
        dtrain = arguments.get("dtrain")
        if dtrain is not None and get_config(FLAVOR_NAME, "log_datasets", True):
            try:
                log_dataset(FLAVOR_NAME, run_id, _dmatrix_data(dtrain), context="train")
                for d, name in arguments.get("evals") or ():
                    log_dataset(FLAVOR_NAME, run_id, _dmatrix_data(d), context="eval", name=name)
            except Exception as exc:  # noqa: BLE001
                _patch.warn_once(FLAVOR_NAME, f"could not record the datasets ({exc})", key="datasets")
        results: list[dict[str, float]] = []
        callbacks = list(arguments.get("callbacks") or [])
        callbacks.append(_metric_callback(xgb, logger, results))
        arguments["callbacks"] = callbacks
        model = original(*bound.args, **bound.kwargs)
        with disable_autologging():
            logger.flush()
            model_id = None
            cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
            if log_models and cfg.get("log_models", True):
                example, signature = example_and_signature(
                    FLAVOR_NAME, lambda: captured_example(dtrain, "DMatrix"), lambda x: model.predict(xgb.DMatrix(x)),
                    cfg.get("log_input_examples", False), cfg.get("log_model_signatures", True))
                from tureen.flavors import xgboost as xgb_flavor

                info = log_model(FLAVOR_NAME, xgb_flavor.log_model, model, signature=signature,
                                 input_example=example, model_format=cfg.get("model_format", "ubj"))
                model_id = getattr(info, "model_id", None)
            if arguments.get("early_stopping_rounds"):
                extra_step = len(results)
                logger.log_metrics({"stopped_iteration": extra_step - 1, "best_iteration": model.best_iteration},
                                   model_id=model_id)
                if 0 <= model.best_iteration < len(results):
                    logger.log_metrics(results[model.best_iteration], step=extra_step, model_id=model_id)
                logger.flush()
            _log_importance(run_id, model, cfg.get("importance_types", ["weight"]))
        return model

    return patched


def _log_importance(run_id: str, model: Any, types: list[str]) -> None:
    from tureen.tracking import fluent

    client = fluent._client()
    with tempfile.TemporaryDirectory(prefix="tureen-autolog-") as tmp:
        for imp_type in types:
            try:
                scores = model.get_score(importance_type=imp_type)
            except Exception as exc:  # noqa: BLE001
                _patch.warn_once(FLAVOR_NAME, f"could not compute feature importance {imp_type!r} ({exc})",
                                 key=f"importance-{imp_type}")
                continue
            if scores:  # MLflow draws no plot for an empty importance (a model without splits)
                png = Path(tmp) / f"feature_importance_{imp_type}.png"
                try:
                    if feature_importance_png(png, list(scores), list(scores.values()), imp_type):
                        client.log_artifact(run_id, str(png))
                except Exception as exc:  # noqa: BLE001
                    _patch.warn_once(FLAVOR_NAME, f"could not draw feature_importance_{imp_type}.png ({exc})",
                                     key=f"importance-plot-{imp_type}")
            path = Path(tmp) / f"feature_importance_{imp_type}.json"
            path.write_text(json.dumps(scores), encoding="utf-8")
            client.log_artifact(run_id, str(path))

