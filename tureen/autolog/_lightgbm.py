"""LightGBM autologging: ``lightgbm.train`` and the scikit-learn API (``LGBMClassifier.fit`` ...).

Recorded as MLflow 3.x does: the params and ``train()`` arguments, per-iteration metrics
``<valid name>-<metric>`` (``@`` becomes ``_at_``), ``stopped_iteration``/``best_iteration`` and the best
iteration's metrics at an extra step when a best iteration exists, ``feature_importance_split.json`` and
``feature_importance_gain.json`` (with ``.png`` plots when matplotlib is installed), the datasets, and the model (``model.lgb`` for a Booster).
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

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS"]

FLAVOR_NAME = "lightgbm"
TESTED_VERSIONS = ("4.0.0", "4.7.0")
_UNLOGGED = ["params", "train_set", "valid_sets", "valid_names", "fobj", "feval", "init_model", "learning_rates",
             "callbacks"]


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True, log_models: bool = True,
            log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or off) autologging for LightGBM; arguments as :func:`tureen.autolog`.

    Example:
        >>> import tureen.flavors.lightgbm  # doctest: +SKIP
        >>> tureen.flavors.lightgbm.autolog(log_input_examples=True)  # doctest: +SKIP
    """
    config = dict(log_input_examples=log_input_examples, log_model_signatures=log_model_signatures,
                  log_models=log_models, log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                  registered_model_name=registered_model_name, extra_tags=extra_tags)
    lgb = _patch.start(FLAVOR_NAME, "lightgbm", "lightgbm autologging", config, disable=disable,
                         disable_for_unsupported_versions=disable_for_unsupported_versions,
                         tested=TESTED_VERSIONS)
    if lgb is None:
        return
    import lightgbm.sklearn

    safe_patch(FLAVOR_NAME, lgb, "train", _patched_train(True), training=True, session_key="lightgbm.train")
    safe_patch(FLAVOR_NAME, lightgbm.sklearn, "train", _patched_train(False), training=True,
               session_key="lightgbm.train")
    safe_patch(FLAVOR_NAME, lgb.Dataset, "__init__", example_capturing_init("Dataset"))
    from tureen.autolog._sklearn import patch_wrapper_classes
    from tureen.flavors import lightgbm as lgb_flavor

    base = lightgbm.sklearn.LGBMModel
    classes = [c for c in vars(lightgbm.sklearn).values() if inspect.isclass(c) and issubclass(c, base)
               and c is not base and c.__module__.startswith("lightgbm")]
    patch_wrapper_classes(FLAVOR_NAME, classes, lgb_flavor.log_model, dict)


def _metric_callback(logger: RunLogger, results: list[dict[str, float]]) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        row: dict[str, float] = {}
        for item in env.evaluation_result_list:
            data_name, eval_name, value = item[0], item[1], item[2]
            row[f"{data_name}-{eval_name}".replace("@", "_at_")] = float(value)
        results.append(row)
        logger.log_metrics(row, step=env.iteration)
        if len(logger._metrics) >= 1000:
            logger.flush()

    return callback


def _patched_train(log_models: bool) -> Callable[..., Any]:
    def patched(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        run_id, bound, logger = begin_training(FLAVOR_NAME, original, args, kwargs, _UNLOGGED)
        arguments = bound.arguments
        train_set = arguments.get("train_set")
        results: list[dict[str, float]] = []
        callbacks = list(arguments.get("callbacks") or [])
        callbacks.append(_metric_callback(logger, results))
        arguments["callbacks"] = callbacks
        model = original(*bound.args, **bound.kwargs)
        with disable_autologging():
            logger.flush()
            if train_set is not None and get_config(FLAVOR_NAME, "log_datasets", True):
                _log_datasets(run_id, train_set, arguments)
            model_id = None
            cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
            if log_models and cfg.get("log_models", True):
                example, signature = example_and_signature(
                    FLAVOR_NAME, lambda: captured_example(train_set, "Dataset"), model.predict,
                    cfg.get("log_input_examples", False), cfg.get("log_model_signatures", True))
                from tureen.flavors import lightgbm as lgb_flavor

                info = log_model(FLAVOR_NAME, lgb_flavor.log_model, model, signature=signature, input_example=example)
                model_id = getattr(info, "model_id", None)
            if model.best_iteration > 0:
                extra_step = len(results)
                logger.log_metrics({"stopped_iteration": extra_step, "best_iteration": model.best_iteration},
                                   model_id=model_id)
                if 0 < model.best_iteration <= len(results):
                    logger.log_metrics(results[model.best_iteration - 1], step=extra_step, model_id=model_id)
                logger.flush()
            _log_importance(run_id, model)
        return model

    return patched


def _log_datasets(run_id: str, train_set: Any, arguments: dict[str, Any]) -> None:
    try:
        data = getattr(train_set, "data", None)
        if data is not None and not isinstance(data, (str, Path)):
            log_dataset(FLAVOR_NAME, run_id, data, context="train")
        names = list(arguments.get("valid_names") or [])
        for i, valid in enumerate(arguments.get("valid_sets") or []):
            if valid is train_set:
                continue
            vdata = getattr(valid, "data", None)
            if vdata is not None and not isinstance(vdata, (str, Path)):
                log_dataset(FLAVOR_NAME, run_id, vdata, context="eval",
                            name=names[i] if i < len(names) else f"valid_{i}")
    except Exception as exc:  # noqa: BLE001
        _patch.warn_once(FLAVOR_NAME, f"could not record the datasets ({exc})", key="datasets")


def _log_importance(run_id: str, model: Any) -> None:
    from tureen.tracking import fluent

    client = fluent._client()
    features = model.feature_name()
    with tempfile.TemporaryDirectory(prefix="tureen-autolog-") as tmp:
        for imp_type in ("split", "gain"):
            importance = model.feature_importance(importance_type=imp_type)
            png = Path(tmp) / f"feature_importance_{imp_type}.png"
            try:
                if feature_importance_png(png, features, importance, imp_type):
                    client.log_artifact(run_id, str(png))
            except Exception as exc:  # noqa: BLE001
                _patch.warn_once(FLAVOR_NAME, f"could not draw feature_importance_{imp_type}.png ({exc})",
                                 key=f"importance-plot-{imp_type}")
            path = Path(tmp) / f"feature_importance_{imp_type}.json"
            path.write_text(json.dumps(dict(zip(features, importance.tolist())), indent=2), encoding="utf-8")
            client.log_artifact(run_id, str(path))
