"""MLflow's ``mlflow.entities`` names: the tracking entities (runs, experiments, metrics, datasets, logged
models) under the names MLflow scripts import. The classes are tureen's own frozen dataclasses (see
:mod:`tureen.tracking.entities`); ``model_registry`` holds the registry's.

Example:
    >>> from tureen.entities import Metric
    >>> Metric("auc", 0.9, 0, 1).step
    1
"""

from __future__ import annotations

from tureen.entities import model_registry
from tureen.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    FileInfo,
    InputTag,
    LifecycleStage,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
    ViewType,
)


class SourceType:
    """Where a run's code came from (the ``mlflow.source.type`` tag values)."""

    NOTEBOOK = "NOTEBOOK"
    JOB = "JOB"
    PROJECT = "PROJECT"
    LOCAL = "LOCAL"
    UNKNOWN = "UNKNOWN"
    RECIPE = "RECIPE"
    _ALL = ("NOTEBOOK", "JOB", "PROJECT", "LOCAL", "UNKNOWN", "RECIPE")

    @staticmethod
    def to_string(value: str) -> str:
        return value

    @staticmethod
    def from_string(value: str) -> str:
        if value not in SourceType._ALL:
            from tureen.exceptions import InvalidParameterError

            raise InvalidParameterError(f"Invalid source type {value!r}")
        return value


class LoggedModelStatus:
    """States of a logged model (``LoggedModel.status``)."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"


__all__ = [
    "Dataset", "DatasetInput", "Experiment", "ExperimentTag", "FileInfo", "InputTag", "LifecycleStage",
    "LoggedModel", "LoggedModelInput", "LoggedModelOutput", "LoggedModelStatus", "Metric", "Param", "Run",
    "RunData", "RunInfo", "RunInputs", "RunOutputs", "RunStatus", "RunTag", "SourceType", "ViewType",
    "model_registry",
]
