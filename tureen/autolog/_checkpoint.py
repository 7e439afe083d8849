"""Model checkpoints during training, logged as run artifacts where MLflow 3.x's autologging puts them.

``mlflow.tensorflow.autolog`` and ``mlflow.pytorch.autolog`` (Lightning) take the same six ``checkpoint*``
parameters; this module checks them and does the framework-neutral part: deciding whether a checkpoint is
due, naming it, and logging it. The framework supplies the file (Keras: ``.h5``, Lightning: ``.pth``).

Artifact layout (MLflow's):

* ``checkpoint_save_best_only=True``: one checkpoint, replaced whenever the monitored metric improves
  (``checkpoint_mode`` ``"min"`` or ``"max"``): ``checkpoints/latest_checkpoint<suffix>`` (weights only:
  ``checkpoints/latest_checkpoint.weights<suffix>``) and ``checkpoints/latest_checkpoint_metrics.json``. No
  checkpoint is written while the monitored metric is not among the logs (a warning says so, once).
* otherwise, every checkpoint in its own folder: ``checkpoints/epoch_<epoch>/`` (``checkpoint_save_freq=
  "epoch"``) or ``checkpoints/global_step_<step>/`` (every N optimizer steps), holding ``checkpoint<suffix>``
  (or ``checkpoint.weights<suffix>``) and ``checkpoint_metrics.json``.

The metrics file holds the logs at that point plus ``epoch`` and ``global_step``; the run tag
``mlflow.latest_checkpoint_artifact`` names the latest checkpoint file.

Reading them back (``load_checkpoint`` of :mod:`tureen.flavors.pytorch` and :mod:`tureen.flavors.tensorflow`)
is :mod:`tureen.flavors._checkpoints`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from tureen.autolog._patch import warn_once
from tureen.exceptions import InvalidParameterError
from tureen.flavors._checkpoints import CHECKPOINT_DIR as _DIR
from tureen.flavors._checkpoints import LATEST_CHECKPOINT_TAG

__all__ = ["checkpoint_config", "Checkpointer", "LATEST_CHECKPOINT_TAG", "init_callback", "autolog_callback"]


def checkpoint_config(checkpoint: Any, checkpoint_monitor: Any, checkpoint_mode: Any, checkpoint_save_best_only: Any,
                      checkpoint_save_weights_only: Any, checkpoint_save_freq: Any) -> dict[str, Any]:
    """The checked ``checkpoint*`` arguments of an autolog call, as its config entries.

    Raises:
        InvalidParameterError: a value MLflow would not act on, naming the parameter.

    Example:
        >>> checkpoint_config(True, "val_loss", "min", True, False, "epoch")["checkpoint_mode"]
        'min'
    """
    for name, value in (("checkpoint", checkpoint), ("checkpoint_save_best_only", checkpoint_save_best_only),
                        ("checkpoint_save_weights_only", checkpoint_save_weights_only)):
        if not isinstance(value, bool):
            raise InvalidParameterError(f"{name} must be True or False, got {value!r}")
    if checkpoint_mode not in ("min", "max"):
        raise InvalidParameterError(f"checkpoint_mode must be 'min' or 'max', got {checkpoint_mode!r}")
    if checkpoint_save_freq != "epoch" and (isinstance(checkpoint_save_freq, bool)
                                            or not isinstance(checkpoint_save_freq, int) or checkpoint_save_freq < 1):
        raise InvalidParameterError(f"checkpoint_save_freq must be 'epoch' or a positive number of steps, got "
                                    f"{checkpoint_save_freq!r}")
    if checkpoint_save_best_only and (not isinstance(checkpoint_monitor, str) or not checkpoint_monitor):
        raise InvalidParameterError(f"checkpoint_monitor must name a metric when checkpoint_save_best_only=True, "
                                    f"got {checkpoint_monitor!r}")
    return dict(checkpoint=checkpoint, checkpoint_monitor=checkpoint_monitor, checkpoint_mode=checkpoint_mode,
                checkpoint_save_best_only=checkpoint_save_best_only,
                checkpoint_save_weights_only=checkpoint_save_weights_only, checkpoint_save_freq=checkpoint_save_freq)


class Checkpointer:
    """Decides, names and logs the checkpoints of one training run (``cfg``: :func:`checkpoint_config`'s).

    ``run_id`` None: each checkpoint goes to the run active when it is logged (one is started if none is,
    as the fluent ``log_*`` functions do), which is what a callback the user made and passed to ``fit``
    needs; autologging gives the run it manages.
    """

    def __init__(self, flavor: str, cfg: dict[str, Any], suffix: str, *, client: Any = None,
                 run_id: str | None = None) -> None:
        self.flavor = flavor
        self.client = client
        self.run_id = run_id
        self.suffix = suffix
        self.monitor = cfg.get("checkpoint_monitor", "val_loss")
        self.mode = cfg.get("checkpoint_mode", "min")
        self.best_only = cfg.get("checkpoint_save_best_only", True)
        self.weights_only = cfg.get("checkpoint_save_weights_only", False)
        self.save_freq = cfg.get("checkpoint_save_freq", "epoch")
        self.best: float | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def maybe_save(self, epoch: int, global_step: int, metrics: dict[str, float], save: Callable[[str], None]) -> None:
        """Log a checkpoint (``save(path)`` writes the file) if one is due with these logs."""
        if self.best_only:
            if self.monitor not in metrics:
                warn_once(self.flavor, f"no checkpoint logged: the monitored metric {self.monitor!r} is not among "
                                       f"the training logs ({', '.join(sorted(metrics)) or 'none'}); set "
                                       "checkpoint_monitor", key="checkpoint-monitor")
                return
            value = metrics[self.monitor]
            if not self._improved(value):
                return
            self.best = value
        weights = ".weights" if self.weights_only else ""
        if self.best_only:
            folder, filename, metrics_file = _DIR, f"latest_checkpoint{weights}{self.suffix}", \
                "latest_checkpoint_metrics.json"
        else:
            sub = f"epoch_{epoch}" if self.save_freq == "epoch" else f"global_step_{global_step}"
            folder, filename, metrics_file = f"{_DIR}/{sub}", f"checkpoint{weights}{self.suffix}", \
                "checkpoint_metrics.json"
        client, run_id = self._target()
        client.set_tag(run_id, LATEST_CHECKPOINT_TAG, f"{folder}/{filename}")
        client.log_dict(run_id, {**metrics, "epoch": epoch, "global_step": global_step}, f"{folder}/{metrics_file}")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / filename
            save(str(path))
            client.log_artifact(run_id, str(path), folder)

    def _target(self) -> tuple[Any, str]:
        from tureen.tracking import fluent

        if self.run_id is not None:
            return self.client or fluent._client(), self.run_id
        return fluent._client(), fluent._run_id()


def init_callback(callback: Any, flavor: str, suffix: str, monitor: str | None, mode: str, save_best_only: bool,
                  save_weights_only: bool, save_freq: str | int) -> None:
    """The shared part of each framework's ``MlflowModelCheckpointCallback.__init__``: the values checked as
    autologging's ``checkpoint_*`` parameters are, kept as attributes, and the callback's :class:`Checkpointer`.

    Raises:
        InvalidParameterError: a value MLflow would not act on.
    """
    cfg = checkpoint_config(True, monitor, mode, save_best_only, save_weights_only, save_freq)
    callback.monitor, callback.mode, callback.save_best_only = monitor, mode, save_best_only
    callback.save_weights_only, callback.save_freq = save_weights_only, save_freq
    callback._checkpointer = Checkpointer(flavor, cfg, suffix)


def autolog_callback(cls: type, logger: Any, cfg: dict[str, Any]) -> Any:
    """The checkpoint callback autologging adds to a fit (``checkpoint=True``): ``cls`` made from the
    autolog configuration ``cfg``, logging to ``logger``'s run."""
    callback = cls(monitor=cfg.get("checkpoint_monitor", "val_loss"), mode=cfg.get("checkpoint_mode", "min"),
                   save_best_only=cfg.get("checkpoint_save_best_only", True),
                   save_weights_only=cfg.get("checkpoint_save_weights_only", False),
                   save_freq=cfg.get("checkpoint_save_freq", "epoch"))
    callback._checkpointer.client, callback._checkpointer.run_id = logger.client, logger.run_id
    return callback
