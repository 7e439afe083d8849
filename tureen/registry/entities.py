"""Model-registry entities, with MLflow's shapes and field names.

Versions are numbered as MLflow gives them: ``ModelVersion.version`` and the values of
``RegisteredModel.aliases`` are ints from a database store (as from MLflow's SQL store) and strings over
REST (as from MLflow's REST client: its protobuf carries them as strings); on the wire and in the CLI's JSON
they are strings. ``ModelVersion.aliases`` lists the aliases pointing at that version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ModelVersion", "RegisteredModel", "RegisteredModelAlias", "AliasHistoryEntry", "STAGES",
           "ModelVersionStatus"]

#: the four stages, canonical spelling
STAGES = ("None", "Staging", "Production", "Archived")


class ModelVersionStatus:
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class _Entity:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ModelVersion(_Entity):
    name: str
    version: int | str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str = "None"
    description: str | None = None
    user_id: str | None = None
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str = ModelVersionStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None

    def wire_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with the version as a string, as the REST protocol and the CLI's JSON carry it."""
        return {**self.to_dict(), "version": str(self.version)}


@dataclass(frozen=True)
class RegisteredModel(_Entity):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, Any] = field(default_factory=dict)

    def wire_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with every version as a string, as the REST protocol and the CLI's JSON carry them."""
        return {**self.to_dict(), "latest_versions": [mv.wire_dict() for mv in self.latest_versions],
                "aliases": {alias: str(version) for alias, version in self.aliases.items()}}


@dataclass(frozen=True)
class RegisteredModelAlias(_Entity):
    alias: str
    version: str


@dataclass(frozen=True)
class AliasHistoryEntry(_Entity):
    """One change of an alias: it pointed to ``version`` from ``timestamp`` on (``None`` = deleted)."""

    name: str
    alias: str
    version: str | None
    timestamp: int
    user_id: str | None = None
