"""``ModelInfo``: what ``log_model`` returns (MLflow's field names).

Lives in ``tureen.models`` and imports nothing from tracking: the tracking layer builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelInfo"]


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of a logged model.

    ``model_uri`` (``models:/<model_id>``) loads it back; ``registered_model_version`` is set when
    ``log_model`` also registered it.

    Example:
        >>> info = ModelInfo(model_uri="models:/m-1", run_id="r", artifact_path="file:///x", flavors={})
        >>> info.model_uri
        'models:/m-1'
    """

    model_uri: str
    run_id: str | None
    artifact_path: str | None
    flavors: dict[str, Any] = field(default_factory=dict)
    signature: Any = None
    registered_model_version: int | None = None
    model_uuid: str | None = None
    model_id: str | None = None
    name: str | None = None
    utc_time_created: str | None = None
    metadata: dict[str, Any] | None = None
    saved_input_example_info: dict[str, Any] | None = None
    mlflow_version: str | None = None

    @classmethod
    def from_model(cls, model: Any, *, model_uri: str, name: str | None = None,
                   registered_model_version: int | None = None) -> "ModelInfo":
        """Build from a :class:`tureen.models.Model` (the MLmodel of the logged directory)."""
        return cls(model_uri=model_uri, run_id=model.run_id, artifact_path=model.artifact_path,
                   flavors=dict(model.flavors), signature=model.signature,
                   registered_model_version=registered_model_version, model_uuid=model.model_uuid,
                   model_id=model.model_id, name=name, utc_time_created=model.utc_time_created,
                   metadata=model.metadata, saved_input_example_info=model.saved_input_example_info,
                   mlflow_version=model.mlflow_version)
