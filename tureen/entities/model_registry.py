"""MLflow's ``mlflow.entities.model_registry`` names: registered models, versions, aliases.

Example:
    >>> from tureen.entities.model_registry import ModelVersionStatus
    >>> ModelVersionStatus.READY
    'READY'
"""

from __future__ import annotations

from tureen.registry.entities import (
    AliasHistoryEntry,
    ModelVersion,
    ModelVersionStatus,
    RegisteredModel,
    RegisteredModelAlias,
)

__all__ = ["ModelVersion", "RegisteredModel", "RegisteredModelAlias", "ModelVersionStatus", "AliasHistoryEntry"]
