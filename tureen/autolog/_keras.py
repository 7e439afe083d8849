"""Keras 3 autologging: ``keras.Model.fit`` (``tf.keras`` is Keras 3 with TensorFlow 2.16+).

MLflow has two spellings of it, and so has tureen; both patch the same ``fit`` and differ in what they
record. This module is the shared machinery and ``mlflow.keras.autolog``'s spelling
(:func:`tureen.flavors.keras.autolog`); :mod:`tureen.autolog._tensorflow` is ``mlflow.tensorflow.autolog``'s
(:func:`tureen.flavors.tensorflow.autolog`, also what ``tureen.autolog()`` turns on when TensorFlow is
installed, as ``mlflow.autolog()`` does).

Both record the ``fit()`` arguments (minus the data, callbacks and ``verbose``) and ``batch_size``, the
optimizer config, the epoch logs as metrics (step = epoch; or every ``log_every_n_steps`` optimizer steps),
evaluation logs as ``validation_<name>``, ``model_summary.txt``, the datasets and the model (``.keras`` file).

=====================  =============================  ===============================================
                       ``keras`` spelling             ``tensorflow`` spelling
=====================  =============================  ===============================================
optimizer config       ``optimizer_<key>``            ``opt_<key>``
run tag                ``mlflow.autologging=keras``   ``mlflow.autologging=tensorflow``
``EarlyStopping``      not looked at                  its settings as params; when it stopped the
                                                      training ``stopped_epoch``, and with restored
                                                      weights ``restored_epoch`` and that epoch's
                                                      metrics again at step ``stopped_epoch + 1``
=====================  =============================  ===============================================

Arguments given to ``fit()`` by position are recorded like keyword ones in both spellings (MLflow's keras
spelling drops them and records their defaults instead: ``docs/migrating-from-mlflow.md``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._checkpoint import autolog_callback
from tureen.autolog._common import (RunLogger, example_and_signature, fn_args_as_params, guarded, head, log_dataset,
                                    log_model)
from tureen.autolog._patch import disable_autologging, safe_patch
from tureen.exceptions import InvalidParameterError

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS", "Spelling", "KERAS"]

FLAVOR_NAME = "keras"
TESTED_VERSIONS = ("3.0.0", "3.15.1")
_UNLOGGED = ["self", "x", "y", "callbacks", "validation_data", "verbose"]
#: both spellings patch keras.Model.fit: a fit seen by one of them is not logged again by the other
SESSION_KEY = "keras.fit"


@dataclass(frozen=True)
class Spelling:
    """What one of MLflow's two Keras autologgers records differently from the other."""

    flavor: str  # the integration name, and the run's mlflow.autologging tag
    optimizer_prefix: str  # optimizer config keys become <prefix><key> params
    early_stopping: bool  # record EarlyStopping settings and results
    flavor_module: str  # the tureen flavor whose log_model logs the trained model
    save_options: tuple[str, ...] = ()  # config entries handed to that log_model as keyword arguments
    checkpoints: bool = False  # the checkpoint* parameters (checkpoints logged during training)


KERAS = Spelling(flavor=FLAVOR_NAME, optimizer_prefix="optimizer_", early_stopping=False,
                 flavor_module="tureen.flavors.keras", save_options=("save_exported_model", "save_model_kwargs"))


def autolog(log_every_epoch: bool = True, log_every_n_steps: int | None = None, log_models: bool = True,
            log_model_signatures: bool = True, save_exported_model: bool = False, log_datasets: bool = True,
            log_input_examples: bool = False, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, save_model_kwargs: dict[str, Any] | None = None,
            extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or off) autologging for Keras 3 ``Model.fit``, recorded as ``mlflow.keras.autolog`` does.

    Args:
        log_every_epoch: log the epoch logs at each epoch end (step = epoch).
        log_every_n_steps: instead, log the batch logs every n optimizer steps (needs
            ``log_every_epoch=False``).
        save_exported_model: log the model as an exported SavedModel (``data/model/``, a ``serve``
            endpoint with the signature's inputs) instead of a ``.keras`` file; needs a signature
            (``log_model_signatures=True``) and TensorFlow. Loading it passes the unsafe gate.
        save_model_kwargs: keyword arguments for ``keras.Model.save`` when the ``.keras`` file is written.
        (others): as :func:`tureen.autolog`.

    Raises:
        InvalidParameterError: both or neither of ``log_every_epoch`` and ``log_every_n_steps`` given;
            ``save_model_kwargs`` not a dict.

    Example:
        >>> import tureen.flavors.keras  # doctest: +SKIP
        >>> tureen.flavors.keras.autolog()  # doctest: +SKIP
    """
    config = _config(log_every_epoch=log_every_epoch, log_every_n_steps=log_every_n_steps, log_models=log_models,
                     log_model_signatures=log_model_signatures, log_input_examples=log_input_examples,
                     log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                     registered_model_name=registered_model_name, extra_tags=extra_tags,
                     save_exported_model=save_exported_model, save_model_kwargs=save_model_kwargs)
    keras = _patch.start(FLAVOR_NAME, "keras", "Keras autologging", config, disable=disable,
                         disable_for_unsupported_versions=disable_for_unsupported_versions,
                         tested=TESTED_VERSIONS)
    if keras is not None:
        patch_fit(keras, KERAS)


def _config(**config: Any) -> dict[str, Any]:
    """The checked configuration of either spelling."""
    if config["log_every_epoch"] and config["log_every_n_steps"] is not None:
        raise InvalidParameterError("log_every_n_steps must be None when log_every_epoch=True")
    if not config["log_every_epoch"] and not config["log_every_n_steps"]:
        raise InvalidParameterError("Give log_every_n_steps=N (a positive integer) when log_every_epoch=False")
    for name in ("save_model_kwargs", "saved_model_kwargs", "keras_model_kwargs"):
        if config.get(name) is not None and not isinstance(config[name], dict):
            raise InvalidParameterError(f"{name} must be a dict of keyword arguments or None, got {config[name]!r}")
    if not isinstance(config.get("save_exported_model", False), bool):
        raise InvalidParameterError(f"save_exported_model must be True or False, got {config['save_exported_model']!r}")
    return config


def patch_fit(keras: Any, spelling: Spelling) -> None:
    """Patch ``keras.Model.fit`` to record as ``spelling`` says (the integration's config is in place)."""

    def patched(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        return _patched_fit(spelling, original, self, *args, **kwargs)

    safe_patch(spelling.flavor, keras.Model, "fit", patched, training=True, session_key=SESSION_KEY)


def _batch_size(arguments: dict[str, Any]) -> Any:
    if arguments.get("batch_size") is not None:
        return arguments["batch_size"]
    x = arguments.get("x")
    for attr in ("batch_size", "_batch_size"):
        value = getattr(x, attr, None)
        if value is not None:
            return value if isinstance(value, int) else getattr(value, "numpy", lambda: value)()
    return None


def _make_callback(keras: Any, logger: RunLogger, cfg: dict[str, Any], spelling: Spelling) -> Any:
    every_epoch = cfg.get("log_every_epoch", True)
    every_n = cfg.get("log_every_n_steps")
    prefix = spelling.optimizer_prefix

    safe = guarded(spelling.flavor)

    class TureenCallback(keras.callbacks.Callback):
        @safe
        def on_train_begin(self, logs: Any = None) -> None:
            config = self.model.optimizer.get_config()
            logger.log_params({f"{prefix}{k}": v for k, v in config.items()})
            logger.flush()
            lines: list[str] = []
            self.model.summary(print_fn=lambda line, *a, **k: lines.append(line))
            logger.client.log_text(logger.run_id, "\n".join(lines), "model_summary.txt")

        @safe
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if every_epoch and logs is not None:
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


_CHECKPOINT_CLASS: list[type] = []


def checkpoint_callback_class() -> type:
    """``MlflowModelCheckpointCallback`` of :mod:`tureen.flavors.tensorflow`: a Keras callback that logs
    checkpoints as MLflow's does. Built on first use: importing tureen imports no Keras.

    Raises:
        MissingDependencyError: Keras is not installed.
    """
    if not _CHECKPOINT_CLASS:
        from tureen._optional import import_optional

        _CHECKPOINT_CLASS.append(_define_checkpoint_class(import_optional("keras", "MlflowModelCheckpointCallback")))
    return _CHECKPOINT_CLASS[0]


def _define_checkpoint_class(keras: Any) -> type:
    from tureen.autolog._checkpoint import init_callback

    safe = guarded("tensorflow")

    class MlflowModelCheckpointCallback(keras.callbacks.Callback):
        """Log checkpoints of a Keras model to the active run while it trains, where MLflow logs them.

        Pass it to ``model.fit(callbacks=[...])``. With ``tureen.tensorflow.autolog()`` on
        (``checkpoint=True``), a ``fit`` given one of these logs with it and autologging adds no second one.
        The files are ``.h5``: the whole model (``Model.save``) or, with ``save_weights_only``, its weights
        (``Model.save_weights``, ``*.weights.h5``); read them back with
        :func:`tureen.flavors.tensorflow.load_checkpoint`.

        Args:
            monitor: the metric of the training logs that decides the best checkpoint (``val_*`` needs
                validation data).
            mode: ``"min"`` or ``"max"``: whether a lower or a higher monitored value is better.
            save_best_only: keep one checkpoint (``checkpoints/latest_checkpoint.h5``), replaced when the
                monitored metric improves; else one per epoch (``checkpoints/epoch_<n>/``) or per
                ``save_freq`` training batches (``checkpoints/global_step_<n>/``).
            save_weights_only: save the weights only, not the model's config and optimizer.
            save_freq: ``"epoch"``, or a number of training batches between checkpoints.

        Raises:
            InvalidParameterError: a value MLflow would not act on (``mode="sideways"``, ``save_freq=0``,
                ``monitor=None`` with ``save_best_only=True``).

        Example:
            >>> MlflowModelCheckpointCallback = tureen.tensorflow.MlflowModelCheckpointCallback  # doctest: +SKIP
            >>> model.fit(X, y, callbacks=[MlflowModelCheckpointCallback(monitor="loss")])  # doctest: +SKIP
        """

        def __init__(self, monitor: str | None = "val_loss", mode: str = "min", save_best_only: bool = True,
                     save_weights_only: bool = False, save_freq: str | int = "epoch") -> None:
            super().__init__()
            init_callback(self, "tensorflow", ".h5", monitor, mode, save_best_only, save_weights_only, save_freq)
            self.current_epoch = 0
            self.global_step = 0
            self._last_saved_step = 0
            self._last_batch = 0

        def _save(self, path: str) -> None:
            if self.save_weights_only:
                self.model.save_weights(path, overwrite=True)
            else:
                self.model.save(path, overwrite=True)

        def _due(self, logs: Any) -> None:
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            self._checkpointer.maybe_save(self.current_epoch, self.global_step, metrics, self._save)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.current_epoch = epoch

        @safe
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            # batch numbers restart each epoch, and with steps_per_execution > 1 this runs every few batches
            self.global_step += batch + 1 if batch <= self._last_batch else batch - self._last_batch
            self._last_batch = batch
            freq = self.save_freq
            if freq != "epoch" and self.global_step - self._last_saved_step >= freq:
                self._due(logs)
                self._last_saved_step = self.global_step

        @safe
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.save_freq == "epoch":
                self._due(logs)

    MlflowModelCheckpointCallback.__module__ = "tureen.flavors.tensorflow"
    MlflowModelCheckpointCallback.__qualname__ = "MlflowModelCheckpointCallback"
    return MlflowModelCheckpointCallback


def _early_stopping_params(early: Any) -> dict[str, Any]:
    return dict(monitor=early.monitor, min_delta=early.min_delta, patience=early.patience, baseline=early.baseline,
                restore_best_weights=early.restore_best_weights)


def _log_early_stopping_results(logger: RunLogger, model: Any, early: Any, history: Any) -> None:
    """``stopped_epoch`` when the callback stopped the training; with restored weights, the epoch they come
    from (the first epoch with the best monitored value) and its logs again, at step ``stopped_epoch + 1``."""
    if not getattr(model, "stop_training", False):
        return
    stopped = int(early.stopped_epoch)
    logger.log_metrics({"stopped_epoch": stopped})
    if not early.restore_best_weights or getattr(early, "best_weights", None) is None:
        return
    logs = getattr(history, "history", None) or {}
    epochs = list(getattr(history, "epoch", None) or [])
    monitored = logs.get(early.monitor)
    if not monitored or not epochs or early.best not in monitored:
        return
    restored = epochs[0] + monitored.index(early.best)
    logger.log_metrics({"restored_epoch": restored})
    if restored in epochs:
        index = epochs.index(restored)
        logger.log_metrics({k: values[index] for k, values in logs.items() if index < len(values)}, step=stopped + 1)


def _patched_fit(spelling: Spelling, original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    import importlib

    import keras

    flavor = spelling.flavor
    run_id = _patch.active_run_id()
    cfg = _patch._CONFIGS.get(flavor, {})
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    arguments = bound.arguments
    logger = RunLogger(flavor, run_id)
    params = fn_args_as_params(original, (self, *args), kwargs, _UNLOGGED)
    batch_size = _batch_size(arguments)
    if batch_size is not None:
        params["batch_size"] = batch_size
    callbacks = list(arguments.get("callbacks") or [])
    early = None
    if spelling.early_stopping:
        early = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
        if early is not None:
            params.update(_early_stopping_params(early))
    logger.log_params(params)
    logger.flush()
    x, y = arguments.get("x"), arguments.get("y")
    if x is not None:
        log_dataset(flavor, run_id, x, y, context="train")
    val = arguments.get("validation_data")
    if isinstance(val, (tuple, list)) and val:
        log_dataset(flavor, run_id, val[0], val[1] if len(val) > 1 else None, context="eval")
    try:
        rows: Any = head(x)
    except Exception as exc:  # noqa: BLE001
        rows = exc
    callbacks.append(_make_callback(keras, logger, cfg, spelling))
    # as MLflow: the user's own MlflowModelCheckpointCallback logs the checkpoints, no second one is added
    if spelling.checkpoints and cfg.get("checkpoint", True) and not any(
            isinstance(c, checkpoint_callback_class()) for c in callbacks):
        callbacks.append(autolog_callback(checkpoint_callback_class(), logger, cfg))
    arguments["callbacks"] = callbacks
    history = original(*bound.args, **bound.kwargs)
    with disable_autologging():
        if early is not None:
            _log_early_stopping_results(logger, self, early, history)
        logger.flush()
        if cfg.get("log_models", True):
            def get_rows() -> Any:
                if isinstance(rows, Exception):
                    raise rows
                return rows

            example, signature = example_and_signature(flavor, get_rows, lambda a: self(a, training=False),
                                                       cfg.get("log_input_examples", False),
                                                       cfg.get("log_model_signatures", True))
            flavor_module = importlib.import_module(spelling.flavor_module)
            options = {k: cfg[k] for k in spelling.save_options if cfg.get(k) is not None}
            log_model(flavor, flavor_module.log_model, self, signature=signature, input_example=example, **options)
    return history
