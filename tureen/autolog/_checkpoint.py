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
starts from :func:`checkpoint_file`, which trusts neither the run's tag nor the caller's ``epoch`` /
``global_step``: the tag must name a file of the layout above with the framework's suffix, and the numbers
must be numbers, so no artifact path is built from text the run chose.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from tureen.autolog._patch import warn_once
from tureen.exceptions import InvalidParameterError

__all__ = ["checkpoint_config", "Checkpointer", "LATEST_CHECKPOINT_TAG", "checkpoint_file", "is_weights_only"]

LATEST_CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"
_DIR = "checkpoints"


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


# ------------------------------------------------------------------------------------------------
# reading them back

_STEP = re.compile(r"[0-9]{1,18}")


def _number(name: str, value: Any) -> int | None:
    """``epoch`` / ``global_step`` as a non-negative int (a string of digits is taken, as MLflow formats
    whatever it is given into the path); anything else is refused before it can become part of a path."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidParameterError(f"{name} must be a non-negative integer, got {value!r}")
        return value
    if isinstance(value, str) and _STEP.fullmatch(value):
        return int(value)
    raise InvalidParameterError(f"{name} must be a non-negative integer, got {value!r}")


def _tag_pattern(suffix: str) -> re.Pattern[str]:
    return re.compile(rf"{_DIR}/(?:(?:epoch|global_step)_[0-9]{{1,18}}/)?(?:latest_)?checkpoint(?:\.weights)?"
                      rf"{re.escape(suffix)}")


def checkpoint_file(run_id: str | None, epoch: Any, global_step: Any, suffix: str, dst_path: str) -> str:
    """Download the checkpoint ``load_checkpoint`` asks for into ``dst_path``; return its local path.

    The run: ``run_id``, else the active run, else the last run this process started (MLflow takes the
    active run only). The file: the one the run's ``mlflow.latest_checkpoint_artifact`` tag names, or the
    file of that name under ``checkpoints/epoch_<epoch>/`` or ``checkpoints/global_step_<global_step>/``.

    Raises:
        InvalidParameterError: both ``epoch`` and ``global_step``; one that is not a non-negative integer;
            no run given and none active or started before.
        ResourceNotFoundError: the run has logged no checkpoint, or none at that epoch or step.
        ModelFormatError: the run's tag names something other than a checkpoint of this framework (``suffix``),
            e.g. a path leading out of ``checkpoints/``; nothing is downloaded then.
    """
    from tureen.exceptions import ModelFormatError, ResourceNotFoundError, TureenError
    from tureen.tracking import fluent

    epoch, global_step = _number("epoch", epoch), _number("global_step", global_step)
    if epoch is not None and global_step is not None:
        raise InvalidParameterError("Give epoch or global_step to load_checkpoint, not both")
    client = fluent._client()
    if run_id is None:
        run = fluent.last_active_run()
        if run is None:
            raise InvalidParameterError("No run is active and none was started in this process: give load_checkpoint "
                                        "the run_id of the run that logged the checkpoints")
    else:
        run = client.get_run(run_id)
    tag = run.data.tags.get(LATEST_CHECKPOINT_TAG)
    if tag is None:
        raise ResourceNotFoundError(f"Run {run.info.run_id} has logged no checkpoint (no "
                                    f"{LATEST_CHECKPOINT_TAG} tag)")
    if not isinstance(tag, str) or not _tag_pattern(suffix).fullmatch(tag):
        raise ModelFormatError(f"Run {run.info.run_id}'s {LATEST_CHECKPOINT_TAG} tag is {tag!r}, not a "
                               f"checkpoint file under {_DIR}/ ending in {suffix!r}; refused")
    filename = tag.rsplit("/", 1)[1]
    if global_step is not None:
        path = f"{_DIR}/global_step_{global_step}/{filename}"
    elif epoch is not None:
        path = f"{_DIR}/epoch_{epoch}/{filename}"
    else:
        path = tag
    try:
        local = client.download_artifacts(run.info.run_id, path, dst_path)
    except TureenError as exc:
        if isinstance(exc, ResourceNotFoundError) or getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise ResourceNotFoundError(f"Run {run.info.run_id} has no checkpoint {path!r}") from exc
        raise
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ResourceNotFoundError(f"Run {run.info.run_id} has no checkpoint {path!r}") from exc
    if not Path(local).is_file():
        raise ResourceNotFoundError(f"Run {run.info.run_id} has no checkpoint file {path!r}")
    return local


def is_weights_only(path: str, suffix: str) -> bool:
    """Whether a checkpoint file's name says it holds weights only (``checkpoint.weights.h5``)."""
    return Path(path).name.endswith(f".weights{suffix}")
