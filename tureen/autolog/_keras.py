"""Keras 3 autologging: ``keras.Model.fit`` (``tf.keras`` is Keras 3 with TensorFlow 2.16+).

Recorded as MLflow 3.x's ``mlflow.keras.autolog`` does: the ``fit()`` arguments (minus the data, callbacks
and ``verbose``) and ``batch_size``, the optimizer config as ``optimizer_<key>``, the epoch logs as metrics
(step = epoch; or every ``log_every_n_steps`` optimizer steps), evaluation logs as ``validation_<name>``,
``model_summary.txt``, the datasets, and the model (``.keras`` file). With an ``EarlyStopping`` callback its
settings are params, and ``stopped_epoch``/``restored_epoch`` plus the restored epoch's metrics are logged.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._common import (RunLogger, example_and_signature, fn_args_as_params, guarded, head, log_dataset,
                                    log_model)
from tureen.autolog._patch import disable_autologging, safe_patch
from tureen.exceptions import InvalidParameterError

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS"]

FLAVOR_NAME = "keras"
TESTED_VERSIONS = ("3.0.0", "3.15.1")
_UNLOGGED = ["self", "x", "y", "callbacks", "validation_data", "verbose"]


def autolog(log_every_epoch: bool = True, log_every_n_steps: int | None = None, log_models: bool = True,
            log_model_signatures: bool = True, log_input_examples: bool = False, log_datasets: bool = True,
            disable: bool = False, exclusive: bool = False, disable_for_unsupported_versions: bool = False,
            silent: bool = False, registered_model_name: str | None = None,
            extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or off) autologging for Keras 3 ``Model.fit``.

    Args:
        log_every_epoch: log the epoch logs at each epoch end (step = epoch).
        log_every_n_steps: instead, log the batch logs every n optimizer steps (needs
            ``log_every_epoch=False``).
        (others): as :func:`tureen.autolog`.

    Example:
        >>> import tureen.flavors.tensorflow  # doctest: +SKIP
        >>> tureen.flavors.tensorflow.autolog()  # doctest: +SKIP
    """
    if log_every_epoch and log_every_n_steps is not None:
        raise InvalidParameterError("log_every_n_steps must be None when log_every_epoch=True")
    if not log_every_epoch and not log_every_n_steps:
        raise InvalidParameterError("Give log_every_n_steps=N (a positive integer) when log_every_epoch=False")
    config = dict(log_every_epoch=log_every_epoch, log_every_n_steps=log_every_n_steps, log_models=log_models,
                  log_model_signatures=log_model_signatures, log_input_examples=log_input_examples,
                  log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                  registered_model_name=registered_model_name, extra_tags=extra_tags)
    keras = _patch.start(FLAVOR_NAME, "keras", "Keras autologging", config, disable=disable,
                         disable_for_unsupported_versions=disable_for_unsupported_versions,
                         tested=TESTED_VERSIONS)
    if keras is None:
        return
    safe_patch(FLAVOR_NAME, keras.Model, "fit", _patched_fit, training=True, session_key="keras.fit")


def _batch_size(arguments: dict[str, Any]) -> Any:
    if arguments.get("batch_size") is not None:
        return arguments["batch_size"]
    x = arguments.get("x")
    for attr in ("batch_size", "_batch_size"):
        value = getattr(x, attr, None)
        if value is not None:
            return value if isinstance(value, int) else getattr(value, "numpy", lambda: value)()
    return None


def _make_callback(keras: Any, logger: RunLogger, cfg: dict[str, Any]) -> Any:
    every_epoch = cfg.get("log_every_epoch", True)
    every_n = cfg.get("log_every_n_steps")

    safe = guarded(FLAVOR_NAME)

    class TureenCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_logs: dict[int, dict[str, float]] = {}

        @safe
        def on_train_begin(self, logs: Any = None) -> None:
            config = self.model.optimizer.get_config()
            logger.log_params({f"optimizer_{k}": v for k, v in config.items()})
            logger.flush()
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
            logger.client.log_text(logger.run_id, "\n".join(lines), "model_summary.txt")

        @safe
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is None:
                return
            self.epoch_logs[epoch] = {k: float(v) for k, v in logs.items()}
            if every_epoch:
                logger.log_metrics(logs, step=epoch)

        @safe
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if not every_n or logs is None:
                return
            step = int(self.model.optimizer.iterations.numpy())
            if step % every_n == 0:
                logger.log_metrics(logs, step=step)

        @safe
        def on_test_end(self, logs: Any = None) -> None:
            if logs is not None:
                logger.log_metrics({f"validation_{k}": v for k, v in logs.items()})

    return TureenCallback()


def _patched_fit(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    import keras

    run_id = _patch.active_run_id()
    cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    arguments = bound.arguments
    logger = RunLogger(FLAVOR_NAME, run_id)
    params = fn_args_as_params(original, (self, *args), kwargs, _UNLOGGED)
    batch_size = _batch_size(arguments)
    if batch_size is not None:
        params["batch_size"] = batch_size
    callbacks = list(arguments.get("callbacks") or [])
    early = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
    if early is not None:
        params.update(monitor=early.monitor, min_delta=early.min_delta, patience=early.patience,
                      baseline=early.baseline, restore_best_weights=early.restore_best_weights)
    logger.log_params(params)
    logger.flush()
    x, y = arguments.get("x"), arguments.get("y")
    if x is not None:
        log_dataset(FLAVOR_NAME, run_id, x, y, context="train")
    val = arguments.get("validation_data")
    if isinstance(val, (tuple, list)) and val:
        log_dataset(FLAVOR_NAME, run_id, val[0], val[1] if len(val) > 1 else None, context="eval")
    try:
        rows: Any = head(x)
    except Exception as exc:  # noqa: BLE001
        rows = exc
    callback = _make_callback(keras, logger, cfg)
    callbacks.append(callback)
    arguments["callbacks"] = callbacks
    history = original(*bound.args, **bound.kwargs)
    with disable_autologging():
        if early is not None and early.stopped_epoch > 0:
            stopped = early.stopped_epoch
            restored = max(0, stopped - max(1, early.patience)) if early.restore_best_weights else None
            logger.log_metrics({"stopped_epoch": stopped, **({"restored_epoch": restored} if restored is not None
                                                               else {})})
            if restored is not None and restored in callback.epoch_logs:
                logger.log_metrics(callback.epoch_logs[restored], step=stopped + 1)
        logger.flush()
        if cfg.get("log_models", True):
            def get_rows() -> Any:
                if isinstance(rows, Exception):
                    raise rows
                return rows

            example, signature = example_and_signature(FLAVOR_NAME, get_rows, lambda a: self(a, training=False),
                                                       cfg.get("log_input_examples", False),
                                                       cfg.get("log_model_signatures", True))
            from tureen.flavors import tensorflow as tf_flavor

            log_model(FLAVOR_NAME, tf_flavor.log_model, self, signature=signature, input_example=example)
    return history
