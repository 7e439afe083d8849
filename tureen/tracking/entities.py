"""Tracking entities, with MLflow's shapes and field names (``Run.info.run_id``, ``Run.data.params`` …).

They are frozen dataclasses: a value read from the store, never a live handle on it. ``RunData`` keeps
``metrics``/``params``/``tags`` as plain dicts (the latest value of each metric), as MLflow's Python
entities do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ViewType", "RunStatus", "LifecycleStage", "Experiment", "ExperimentTag", "RunInfo", "RunData",
    "RunInputs", "RunOutputs", "LoggedModelOutput", "Dataset", "InputTag", "DatasetInput", "LoggedModelInput",
    "Run", "Metric", "Param", "RunTag", "FileInfo",
    "LoggedModel", "PagedList",
]


class ViewType:
    """Which runs/experiments a search returns (MLflow's enum values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    _NAMES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}

    @classmethod
    def from_any(cls, value: Any) -> int:
        from tureen.exceptions import InvalidParameterError

        if isinstance(value, str):
            key = value.strip().upper()
            if key in cls._NAMES:
                return cls._NAMES[key]
        elif value in (1, 2, 3):
            return int(value)
        raise InvalidParameterError(f"Invalid view type {value!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL")

    @classmethod
    def from_string(cls, view_str: str) -> int:
        """MLflow's spelling: ``ViewType.from_string("all") == ViewType.ALL``."""
        return cls.from_any(str(view_str))

    @classmethod
    def to_string(cls, view_type: int) -> str:
        for key, number in cls._NAMES.items():
            if number == view_type:
                return key
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"Invalid view type {view_type!r}")


class RunStatus:
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

    @staticmethod
    def is_terminated(status: str) -> bool:
        return status in ("FINISHED", "FAILED", "KILLED")

    # MLflow's RunStatus is an enum of ints with string converters; here the values are the strings
    # themselves, so both converters check and return the name.
    @staticmethod
    def to_string(status: str) -> str:
        return RunStatus._check(status)

    @staticmethod
    def from_string(status: str) -> str:
        return RunStatus._check(status)

    @staticmethod
    def all_status() -> list[str]:
        return list(RunStatus.ALL)

    @staticmethod
    def _check(status: Any) -> str:
        if isinstance(status, str) and status.upper() in RunStatus.ALL:
            return status.upper()
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"Invalid run status {status!r}: use one of {', '.join(RunStatus.ALL)}")


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class PagedList(list):  # type: ignore[type-arg]
    """A list of results plus ``token``: the page token of the next page, or ``None`` at the end."""

    def __init__(self, items: Any = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


class _Entity:
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the entity (nested entities included)."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ExperimentTag(_Entity):
    key: str
    value: str


@dataclass(frozen=True)
class Experiment(_Entity):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class Metric(_Entity):
    key: str
    value: float
    timestamp: int
    step: int = 0
    run_id: str | None = None
    model_id: str | None = None


@dataclass(frozen=True)
class Param(_Entity):
    key: str
    value: str


@dataclass(frozen=True)
class RunTag(_Entity):
    key: str
    value: str


@dataclass(frozen=True)
class RunInfo(_Entity):
    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        """Deprecated MLflow alias of :attr:`run_id`."""
        return self.run_id


@dataclass(frozen=True)
class RunData(_Entity):
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedModelOutput(_Entity):
    model_id: str
    step: int = 0


@dataclass(frozen=True)
class Dataset(_Entity):
    """A dataset as recorded on runs (MLflow's fields); ``source``, ``schema`` and ``profile`` are JSON strings.

    Stored once per experiment: the first record of a ``(name, digest)`` is kept, later ones reuse it.

    Example:
        >>> Dataset("iris", "c5cd3c2d", "code", '{"tags": {}}').digest
        'c5cd3c2d'
    """

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class InputTag(_Entity):
    """A tag of one dataset input, e.g. ``mlflow.data.context`` = ``train``."""

    key: str
    value: str


@dataclass(frozen=True)
class DatasetInput(_Entity):
    """A dataset used by a run, with the tags of that use (``run.inputs.dataset_inputs[i]``)."""

    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)


@dataclass(frozen=True)
class LoggedModelInput(_Entity):
    """A logged model used as an input of a run."""

    model_id: str


@dataclass(frozen=True)
class RunInputs(_Entity):
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[LoggedModelInput] = field(default_factory=list)


@dataclass(frozen=True)
class RunOutputs(_Entity):
    model_outputs: list[LoggedModelOutput] = field(default_factory=list)


@dataclass(frozen=True)
class Run(_Entity):
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)
    outputs: RunOutputs = field(default_factory=RunOutputs)


@dataclass(frozen=True)
class FileInfo(_Entity):
    """One artifact: ``path`` relative to the artifact root, ``file_size`` is ``None`` for directories."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class LoggedModel(_Entity):
    """An MLflow 3.x logged model: the files of one ``log_model`` call and where they live."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str
    source_run_id: str | None = None
    model_type: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def artifact_uri(self) -> str:
        return self.artifact_location

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"
