"""Checkpoints that a training run logged (MLflow's layout, :mod:`tureen.autolog._checkpoint` writes it), found
and downloaded for ``load_checkpoint`` of :mod:`tureen.flavors.pytorch` and :mod:`tureen.flavors.tensorflow`.

Neither the run's ``mlflow.latest_checkpoint_artifact`` tag nor the caller's ``epoch`` / ``global_step`` is
trusted: the tag must name a file of the layout with the framework's suffix, and the numbers must be numbers,
so no artifact path is built from text the run chose. Tracking is reached inside the function only (a flavor
module sees no store at import).

Example:
    >>> is_weights_only("checkpoints/latest_checkpoint.weights.h5", ".h5")
    True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError

__all__ = ["checkpoint_file", "is_weights_only", "LATEST_CHECKPOINT_TAG", "CHECKPOINT_DIR"]

LATEST_CHECKPOINT_TAG = "mlflow.latest_checkpoint_artifact"
CHECKPOINT_DIR = "checkpoints"
_DIR = CHECKPOINT_DIR

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
