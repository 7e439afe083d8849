"""PyTorch Lightning autologging: ``Trainer.fit`` of ``lightning`` and ``pytorch_lightning``.

Recorded as MLflow 3.x's ``mlflow.pytorch.autolog`` does for Lightning: ``epochs``, ``optimizer_name`` and
the optimizer's defaults (``lr``, ``betas``, ...) as params, ``trainer.callback_metrics`` at the end of
every ``log_every_n_epoch``-th epoch (step = epoch; optionally step metrics every ``log_every_n_step``
global steps), the ``Mode`` tag (``training``; ``testing`` after ``trainer.test``), ``model_summary.txt``,
``EarlyStopping`` settings (``min_delta`` as given: Lightning stores it negated in ``"min"`` mode) and, when it
stopped the training, its results, and the model, with a signature taken from the first training
batch. The model is saved as a ``torch.export`` program when it exports with that batch (then the first rows
of that batch are stored as its example), else as a pickle (what MLflow always does).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._checkpoint import autolog_callback
from tureen.autolog._common import INPUT_EXAMPLE_ROWS, RunLogger, guarded, log_model
from tureen.autolog._patch import disable_autologging, safe_patch, warn_once
from tureen.exceptions import InvalidParameterError, MissingDependencyError

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS"]

FLAVOR_NAME = "pytorch"
TESTED_VERSIONS = ("2.0.0", "2.6.6")
_PACKAGES = ("lightning", "pytorch_lightning")


def autolog(log_every_n_epoch: int = 1, log_every_n_step: int | None = None, log_models: bool = True,
            log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, extra_tags: dict[str, Any] | None = None,
            checkpoint: bool = True, checkpoint_monitor: str | None = "val_loss", checkpoint_mode: str = "min",
            checkpoint_save_best_only: bool = True, checkpoint_save_weights_only: bool = False,
            checkpoint_save_freq: str | int = "epoch", log_model_signatures: bool = True) -> None:
    """Turn on (or off) autologging for PyTorch Lightning ``Trainer.fit``.

    Args:
        log_every_n_epoch: log epoch metrics every n epochs.
        log_every_n_step: also log step metrics every n global steps (``None``: off).
        checkpoint: log model checkpoints during training (``checkpoints/``, see ``docs/autolog.md``).
        checkpoint_monitor: the logged metric that decides which checkpoint is the best.
        checkpoint_mode: ``"min"`` or ``"max"``: whether a lower or a higher monitored value is better.
        checkpoint_save_best_only: keep one checkpoint, replaced when the monitored metric improves
            (``checkpoints/latest_checkpoint.pth``); else one per epoch or per ``checkpoint_save_freq`` steps.
        checkpoint_save_weights_only: checkpoint the weights only, without optimizer and loop states
            (``Trainer.save_checkpoint(weights_only=True)``).
        checkpoint_save_freq: ``"epoch"``, or a number of global steps between checkpoints.
        (others): as :func:`tureen.autolog` (``log_datasets`` has no effect: Lightning's data loaders
            are not recorded, as in MLflow).

    Raises:
        InvalidParameterError: a ``log_every_*`` that is not a positive integer; a ``checkpoint*`` value
            MLflow would not act on (``checkpoint_save_freq="hourly"``).
        MissingDependencyError: neither ``lightning`` nor ``pytorch_lightning`` is installed.

    Example:
        >>> import tureen.flavors.pytorch  # doctest: +SKIP
        >>> tureen.flavors.pytorch.autolog(log_every_n_epoch=2)  # doctest: +SKIP
    """
    import importlib.util

    from tureen.autolog._checkpoint import checkpoint_config

    if not isinstance(log_every_n_epoch, int) or log_every_n_epoch < 1:
        raise InvalidParameterError(f"log_every_n_epoch must be a positive integer, got {log_every_n_epoch!r}")
    if log_every_n_step is not None and (not isinstance(log_every_n_step, int) or log_every_n_step < 1):
        raise InvalidParameterError(f"log_every_n_step must be a positive integer or None, got {log_every_n_step!r}")
    config = dict(log_every_n_epoch=log_every_n_epoch, log_every_n_step=log_every_n_step, log_models=log_models,
                  log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                  registered_model_name=registered_model_name, extra_tags=extra_tags,
                  log_model_signatures=log_model_signatures,
                  disable_for_unsupported_versions=disable_for_unsupported_versions,
                  **checkpoint_config(checkpoint, checkpoint_monitor, checkpoint_mode, checkpoint_save_best_only,
                                      checkpoint_save_weights_only, checkpoint_save_freq))
    _patch.remove_hooks([_on_import])
    _patch.revert_patches(FLAVOR_NAME)
    _patch.configure(FLAVOR_NAME, None)
    if disable:
        return
    installed = []
    for name in _PACKAGES:
        try:
            if sys.modules.get(name) is not None or importlib.util.find_spec(name) is not None:
                installed.append(name)
        except (ImportError, ValueError):
            pass
    if not installed:
        raise MissingDependencyError("PyTorch Lightning autologging needs the 'lightning' package, which is not "
                                     "installed. Install it with: pip install 'tureen[pytorch]'")
    _patch.configure(FLAVOR_NAME, config)
    for name in installed:
        if name not in sys.modules:
            __import__(name)
        _patch.when_imported(name, _on_import)


def _on_import(module: Any) -> None:
    cfg = _patch._CONFIGS.get(FLAVOR_NAME)
    if cfg is None:
        return
    ok = _patch.check_version(FLAVOR_NAME, module.__name__, getattr(module, "__version__", "0"), TESTED_VERSIONS)
    if not ok and cfg.get("disable_for_unsupported_versions"):
        return
    pl = module.pytorch if module.__name__ == "lightning" else module
    safe_patch(FLAVOR_NAME, pl.Trainer, "fit", _patched_fit(pl), training=True, session_key="lightning.fit")


def _optimizer_name(optimizer: Any) -> str:
    inner = getattr(optimizer, "_optimizer", None)  # LightningOptimizer wraps the torch optimizer
    return type(inner if inner is not None else optimizer).__name__


def _rank_zero_hook(fn: Callable[..., None]) -> Callable[..., None]:
    """A Lightning hook ``(self, trainer, ...)`` that runs only in the process of global rank zero (as MLflow's
    callbacks: one process of a distributed fit logs) and whose failures never stop the training."""
    guarded_fn = guarded(FLAVOR_NAME)(fn)

    def hook(self: Any, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if getattr(trainer, "is_global_zero", True):
            guarded_fn(self, trainer, *args, **kwargs)

    hook.__name__ = fn.__name__
    return hook


def _make_callback(pl: Any, logger: RunLogger, cfg: dict[str, Any]) -> Any:
    import torch

    every_epoch = cfg.get("log_every_n_epoch", 1)
    every_step = cfg.get("log_every_n_step")

    safe = _rank_zero_hook

    class TureenLightningCallback(pl.Callback):
        def __init__(self) -> None:
            self.first_batch: tuple[Any, Any] | None = None
            self.step_metrics: set[str] = set()
            self.epoch_metrics: set[str] = set()
            self._forward_patched: Any = None

        def _metrics(self, items: Any) -> dict[str, float]:
            out = {}
            for k, v in items:
                try:
                    out[k] = float(v)
                except (TypeError, ValueError):
                    pass
            return out

        @safe
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            logger.set_tags({"Mode": "training"})
            params: dict[str, Any] = {"epochs": trainer.max_epochs}
            if getattr(trainer, "optimizers", None):
                opt = trainer.optimizers[0]
                params["optimizer_name"] = _optimizer_name(opt)
                params.update(getattr(opt, "defaults", {}) or {})
            early = next((c for c in trainer.callbacks if isinstance(c, pl.callbacks.EarlyStopping)), None)
            if early is not None:
                params.update(monitor=early.monitor, mode=early.mode, patience=early.patience,
                              min_delta=_given_min_delta(early), stopped_epoch=early.stopped_epoch)
            logger.log_params(params)
            logger.flush()
            try:
                from lightning.pytorch.utilities.model_summary import ModelSummary
            except ImportError:
                from pytorch_lightning.utilities.model_summary import ModelSummary  # type: ignore[no-redef]
            logger.client.log_text(logger.run_id, str(ModelSummary(pl_module, max_depth=-1)), "model_summary.txt")
            if cfg.get("log_models", True) and cfg.get("log_model_signatures", True):
                original_forward = pl_module.forward
                callback = self

                def forward(*inputs: Any, **kw: Any) -> Any:
                    result = original_forward(*inputs, **kw)
                    if callback.first_batch is None and len(inputs) == 1 and not kw \
                            and isinstance(inputs[0], torch.Tensor) and isinstance(result, torch.Tensor):
                        callback.first_batch = (inputs[0][:INPUT_EXAMPLE_ROWS].detach().cpu().clone(),
                                                result[:INPUT_EXAMPLE_ROWS].detach().cpu().clone())
                    return result

                pl_module.forward = forward
                self._forward_patched = pl_module

        def restore_forward(self) -> None:
            module = self._forward_patched
            if module is not None and "forward" in vars(module):
                del module.forward
            self._forward_patched = None

        @safe
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking:
                return
            items = [(k, v) for k, v in trainer.callback_metrics.items() if k not in self.step_metrics]
            self.epoch_metrics.update(k for k, _ in items)
            if (pl_module.current_epoch + 1) % every_epoch == 0:
                logger.log_metrics(self._metrics(items), step=pl_module.current_epoch)

        @safe
        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            if not every_step or trainer.sanity_checking:
                return
            metrics = trainer.logged_metrics
            items = [(k, v) for k, v in metrics.items() if k not in self.epoch_metrics
                     and f"{k}_step" not in metrics]
            self.step_metrics.update(k for k, _ in items)
            if (trainer.global_step + 1) % every_step == 0:
                logger.log_metrics(self._metrics(items), step=trainer.global_step)

        @safe
        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self.restore_forward()
            logger.flush()

        @safe
        def on_test_end(self, trainer: Any, pl_module: Any) -> None:
            logger.set_tags({"Mode": "testing"})
            logger.log_metrics(self._metrics(trainer.callback_metrics.items()))
            logger.flush()

    return TureenLightningCallback()


_CHECKPOINT_CLASS: list[type] = []


def checkpoint_callback_class() -> type:
    """``MlflowModelCheckpointCallback`` of :mod:`tureen.flavors.pytorch`: a Lightning callback (of
    ``lightning`` and of ``pytorch_lightning``, whichever are installed, so either's ``Trainer`` takes it)
    that logs checkpoints as MLflow's does. Built on first use: importing tureen imports no Lightning.

    Raises:
        MissingDependencyError: neither ``lightning`` nor ``pytorch_lightning`` is installed.
    """
    if _CHECKPOINT_CLASS:
        return _CHECKPOINT_CLASS[0]
    import importlib
    import importlib.util

    bases = []
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            if name in sys.modules or importlib.util.find_spec(name.split(".")[0]) is not None:
                bases.append(importlib.import_module(name).Callback)
        except ImportError:
            pass
    if not bases:
        raise MissingDependencyError("MlflowModelCheckpointCallback is a PyTorch Lightning callback, and neither "
                                     "'lightning' nor 'pytorch_lightning' is installed. Install it with: "
                                     "pip install 'tureen[pytorch]'")
    _CHECKPOINT_CLASS.append(_define_checkpoint_class(tuple(bases)))
    return _CHECKPOINT_CLASS[0]


def _define_checkpoint_class(bases: tuple[type, ...]) -> type:
    from tureen.autolog._checkpoint import init_callback

    safe = guarded(FLAVOR_NAME)

    def metrics_of(trainer: Any) -> dict[str, float]:
        metrics = {}
        for k, v in trainer.callback_metrics.items():
            try:
                metrics[k] = float(v)
            except (TypeError, ValueError):
                pass
        return metrics

    class MlflowModelCheckpointCallback(*bases):  # type: ignore[misc]
        """Log checkpoints of a Lightning model to the active run while it trains, where MLflow logs them.

        Pass it to ``Trainer(callbacks=[...])``. With ``tureen.pytorch.autolog()`` on (``checkpoint=True``),
        a ``fit`` given one of these logs with it and autologging adds no second one. Only the process of
        global rank zero writes anything. The files are ``Trainer`` checkpoints (``.pth``); read them back
        with :func:`tureen.flavors.pytorch.load_checkpoint`.

        Args:
            monitor: the logged metric (``trainer.callback_metrics``) that decides the best checkpoint.
            mode: ``"min"`` or ``"max"``: whether a lower or a higher monitored value is better.
            save_best_only: keep one checkpoint (``checkpoints/latest_checkpoint.pth``), replaced when the
                monitored metric improves; else one per epoch (``checkpoints/epoch_<n>/``) or per
                ``save_freq`` global steps (``checkpoints/global_step_<n>/``).
            save_weights_only: leave the optimizer and loop states out of the checkpoint.
            save_freq: ``"epoch"``, or a number of global steps between checkpoints.

        Raises:
            InvalidParameterError: a value MLflow would not act on (``mode="sideways"``, ``save_freq=0``,
                ``monitor=None`` with ``save_best_only=True``).

        Example:
            >>> MlflowModelCheckpointCallback = tureen.pytorch.MlflowModelCheckpointCallback  # doctest: +SKIP
            >>> trainer = L.Trainer(callbacks=[MlflowModelCheckpointCallback(monitor="train_loss")])  # doctest: +SKIP
        """

        def __init__(self, monitor: str | None = "val_loss", mode: str = "min", save_best_only: bool = True,
                     save_weights_only: bool = False, save_freq: str | int = "epoch") -> None:
            super().__init__()
            init_callback(self, FLAVOR_NAME, ".pth", monitor, mode, save_best_only, save_weights_only, save_freq)

        def _save(self, trainer: Any, path: str) -> None:
            # Trainer.save_checkpoint waits at a barrier for every rank; only rank zero comes here, so the
            # checkpoint is built and written without it
            connector = getattr(trainer, "_checkpoint_connector", None)
            if connector is None or not hasattr(trainer.strategy, "save_checkpoint"):
                trainer.save_checkpoint(path, weights_only=self.save_weights_only)
                return
            trainer.strategy.save_checkpoint(connector.dump_checkpoint(self.save_weights_only), path)

        def _due(self, trainer: Any) -> None:
            self._checkpointer.maybe_save(trainer.current_epoch, trainer.global_step, metrics_of(trainer),
                                          lambda path: self._save(trainer, path))

        @safe
        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            freq = self.save_freq
            if trainer.is_global_zero and freq != "epoch" and trainer.global_step > 0 \
                    and trainer.global_step % freq == 0:
                self._due(trainer)

        @safe
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.is_global_zero and self.save_freq == "epoch" and not trainer.sanity_checking:
                self._due(trainer)

    MlflowModelCheckpointCallback.__module__ = "tureen.flavors.pytorch"
    MlflowModelCheckpointCallback.__qualname__ = "MlflowModelCheckpointCallback"
    return MlflowModelCheckpointCallback


def _autolog_checkpoint_callback(logger: RunLogger, cfg: dict[str, Any]) -> Any:
    """The checkpoint callback autologging adds to a fit (``checkpoint=True``), logging to its run."""
    callback = autolog_callback(checkpoint_callback_class(), logger, cfg)
    callback._tureen_autolog = True  # replaced, not kept, when the trainer is fitted again
    return callback


def _patched_fit(pl: Any) -> Callable[..., Any]:
    def patched(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        run_id = _patch.active_run_id()
        cfg = _patch._CONFIGS.get(FLAVOR_NAME, {})
        logger = RunLogger(FLAVOR_NAME, run_id)
        # a trainer fitted before keeps our callbacks of that run: replace them
        self.callbacks[:] = [c for c in self.callbacks if type(c).__name__ != "TureenLightningCallback"
                             and not getattr(c, "_tureen_autolog", False)]
        callback = _make_callback(pl, logger, cfg)
        self.callbacks.append(callback)
        # as MLflow: the user's own MlflowModelCheckpointCallback logs the checkpoints, no second one is added
        if cfg.get("checkpoint", True) and not any(isinstance(c, checkpoint_callback_class())
                                                   for c in self.callbacks):
            self.callbacks.append(_autolog_checkpoint_callback(logger, cfg))
        try:
            result = original(self, *args, **kwargs)
        finally:
            callback.restore_forward()
        if not self.is_global_zero:  # the other ranks of a distributed fit log nothing (their callbacks neither)
            return result
        with disable_autologging():
            early = next((c for c in self.callbacks if isinstance(c, pl.callbacks.EarlyStopping)), None)
            if early is not None:
                logger.log_metrics(_early_stopping_metrics(early))
            logger.flush()
            if cfg.get("log_models", True):
                _log_lightning_model(self.lightning_module, callback.first_batch)
        return result

    return patched


def _given_min_delta(early: Any) -> float:
    """The ``min_delta`` the user gave: Lightning flips its sign in ``"min"`` mode (MLflow records the flipped
    value, ``-0.01`` for ``min_delta=0.01``)."""
    value = float(early.min_delta)
    return -value if early.mode == "min" else value


def _early_stopping_metrics(early: Any) -> dict[str, Any]:
    """What MLflow records of an ``EarlyStopping`` after the fit: nothing unless it stopped the training
    (``stopped_epoch`` is 0 until it does); then ``stopped_epoch``, ``restored_epoch`` (``stopped_epoch -
    max(1, patience)``, MLflow's estimate of the best epoch), ``best_score`` and ``wait_count``."""
    stopped = int(early.stopped_epoch)
    if stopped == 0:
        return {}
    metrics: dict[str, Any] = {"stopped_epoch": stopped, "restored_epoch": stopped - max(1, int(early.patience))}
    if getattr(early, "best_score", None) is not None:
        metrics["best_score"] = float(early.best_score)
    if hasattr(early, "wait_count"):
        metrics["wait_count"] = early.wait_count
    return metrics


def _log_lightning_model(module: Any, first_batch: tuple[Any, Any] | None) -> None:
    from tureen.flavors import pytorch as torch_flavor

    signature = example = None
    if first_batch is not None:
        try:
            from tureen.models.signature import infer_signature

            example = first_batch[0].numpy()
            signature = infer_signature(example, first_batch[1].numpy())
        except Exception as exc:  # noqa: BLE001
            warn_once(FLAVOR_NAME, f"could not infer the model signature ({exc})", key="signature")
    was_training = module.training
    try:
        if example is not None and _exports(module, first_batch[0]):  # type: ignore[index]
            log_model(FLAVOR_NAME, torch_flavor.log_model, module, signature=signature, input_example=example,
                      serialization_format="pt2")
            return
        # no batch seen, or it does not export with torch.export: save it as MLflow does
        log_model(FLAVOR_NAME, torch_flavor.log_model, module, signature=signature, serialization_format="pickle")
    finally:
        module.train(was_training)


def _exports(module: Any, batch: Any) -> bool:
    import torch

    was_training = module.training
    try:
        module.eval()
        torch.export.export(module, (batch,))
        return True
    except Exception:  # noqa: BLE001 - torch.export raises many kinds of errors
        return False
    finally:
        module.train(was_training)
