"""Reading and writing the ``MLmodel`` file, byte-compatible with MLflow 3.x.

The file is YAML in block style with keys sorted alphabetically (``yaml.safe_dump``). Unknown top-level keys
are kept on load and written back unchanged, so a model passes through tureen without losing anything a
newer MLflow (or another tool) put there. tureen's own facts (its version, the file digests) live under the
single key ``tureen``, which MLflow keeps as an unknown key.
"""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from pathlib import Path
from typing import Any

import yaml

from tureen.exceptions import ModelFormatError

__all__ = ["Model", "MLMODEL_FILE_NAME", "TUREEN_KEY"]

MLMODEL_FILE_NAME = "MLmodel"
TUREEN_KEY = "tureen"

# Keys MLflow 3.x writes even when null (its readers expect them present).
_ALWAYS = ("model_id", "prompts")
_KNOWN = ("artifact_path", "flavors", "model_uuid", "model_id", "run_id", "utc_time_created", "mlflow_version",
          "signature", "saved_input_example_info", "model_size_bytes", "metadata", "prompts", "resources",
          "auth_policy", "env_vars", "databricks_runtime", "is_signature_from_type_hint",
          "type_hint_from_example")


def _utc_now_str() -> str:
    # MLflow writes a naive UTC str(datetime): '2026-11-27 01:42:01.503462'
    return str(_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None))


class Model:
    """One ``MLmodel`` file: flavors, signature, example info, metadata and any unknown keys.

    Example:
        >>> m = Model()
        >>> m.add_flavor("python_function", loader_module="mlflow.sklearn")
        >>> sorted(m.flavors)
        ['python_function']
    """

    def __init__(self, **fields: Any) -> None:
        self.flavors: dict[str, dict[str, Any]] = dict(fields.pop("flavors", None) or {})
        self.model_uuid: str | None = fields.pop("model_uuid", uuid.uuid4().hex)
        self.model_id: str | None = fields.pop("model_id", None)
        self.run_id: str | None = fields.pop("run_id", None)
        self.artifact_path: str | None = fields.pop("artifact_path", None)
        self.utc_time_created: str = fields.pop("utc_time_created", None) or _utc_now_str()
        self.mlflow_version: str | None = fields.pop("mlflow_version", None)
        self.saved_input_example_info: dict[str, Any] | None = fields.pop("saved_input_example_info", None)
        self.model_size_bytes: int | None = fields.pop("model_size_bytes", None)
        self.metadata: dict[str, Any] | None = fields.pop("metadata", None)
        self.prompts: list[str] | None = fields.pop("prompts", None)
        self.is_signature_from_type_hint: bool = bool(fields.pop("is_signature_from_type_hint", False))
        self.type_hint_from_example: bool = bool(fields.pop("type_hint_from_example", False))
        sig = fields.pop("signature", None)
        self._signature_raw: dict[str, Any] | None = sig if isinstance(sig, dict) else None
        self._signature: Any = None if isinstance(sig, dict) or sig is None else sig
        self.tureen: dict[str, Any] = dict(fields.pop(TUREEN_KEY, None) or {})
        # everything else (resources, env_vars, keys of newer MLflow versions, other tools) is kept as is
        self.extra: dict[str, Any] = fields

    # -- signature, parsed lazily so that reading MLmodel does not import numpy ----------------------
    @property
    def signature(self) -> Any:
        """The :class:`~tureen.models.signature.ModelSignature`, or ``None``."""
        if self._signature is None and self._signature_raw is not None:
            from tureen.models.signature import ModelSignature

            self._signature = ModelSignature.from_dict(self._signature_raw)
        return self._signature

    @signature.setter
    def signature(self, value: Any) -> None:
        self._signature = value
        self._signature_raw = None if value is None else value.to_dict()

    def get_input_schema(self) -> Any:
        sig = self.signature
        return sig.inputs if sig is not None else None

    def get_output_schema(self) -> Any:
        sig = self.signature
        return sig.outputs if sig is not None else None

    def get_params_schema(self) -> Any:
        sig = self.signature
        return sig.params if sig is not None else None

    # -- flavors --------------------------------------------------------------------------------------
    def add_flavor(self, name: str, **params: Any) -> None:
        self.flavors[name] = params

    def get_flavor(self, name: str) -> dict[str, Any]:
        try:
            return self.flavors[name]
        except KeyError:
            raise ModelFormatError(f"The model has no {name!r} flavor; it has: "
                                   f"{', '.join(sorted(self.flavors)) or 'none'}") from None

    @property
    def tureen_version(self) -> str | None:
        return self.tureen.get("version")

    # -- (de)serialization ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = self.flavors
        out["model_uuid"] = self.model_uuid
        out["model_id"] = self.model_id
        out["utc_time_created"] = self.utc_time_created
        out["prompts"] = self.prompts
        for key in ("run_id", "artifact_path", "mlflow_version", "saved_input_example_info", "metadata"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.model_size_bytes:
            out["model_size_bytes"] = self.model_size_bytes
        sig = self._signature.to_dict() if self._signature is not None else self._signature_raw
        if sig is not None:
            out["signature"] = sig
            out["is_signature_from_type_hint"] = self.is_signature_from_type_hint
            out["type_hint_from_example"] = self.type_hint_from_example
        if self.tureen:
            out[TUREEN_KEY] = self.tureen
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), default_flow_style=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Model":
        if not isinstance(data, dict):
            raise ModelFormatError(f"MLmodel must hold a mapping at the top level, found {type(data).__name__}")
        flavors = data.get("flavors")
        if not isinstance(flavors, dict) or not flavors:
            raise ModelFormatError("MLmodel has no 'flavors' mapping: it does not describe a model")
        for name, conf in flavors.items():
            if conf is not None and not isinstance(conf, dict):
                raise ModelFormatError(f"MLmodel flavor {name!r} must be a mapping, found {type(conf).__name__}")
        fields = dict(data)
        fields["flavors"] = {k: dict(v or {}) for k, v in flavors.items()}
        return cls(**fields)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Model":
        """Read ``MLmodel`` from a model directory (or the file itself).

        Raises:
            ModelFormatError: no MLmodel, or one that is not valid YAML or not a model description.
        """
        p = Path(path)
        file = p / MLMODEL_FILE_NAME if p.is_dir() else p
        if p.is_dir() and file.is_symlink():
            # a model directory is untrusted: its MLmodel must not make us read a file elsewhere
            from tureen.exceptions import ModelPathError

            raise ModelPathError(f"The MLmodel file in {str(p)!r} is a symlink; symlinks inside a model "
                                 "directory are refused")
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelFormatError(f"No MLmodel file in {str(p)!r}: it is not a saved model directory") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"Cannot read {str(file)!r}: {exc}") from exc
        from tureen.models._yaml import load_untrusted_yaml

        data = load_untrusted_yaml(text, what=repr(str(file)))
        try:
            return cls.from_dict(data)
        except ModelFormatError as exc:
            raise ModelFormatError(f"{str(file)!r} is corrupt: {exc.message}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``MLmodel`` into the directory ``path`` (atomically: temp file + rename)."""
        p = Path(path)
        target = p / MLMODEL_FILE_NAME if p.is_dir() else p
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(self.to_yaml(), encoding="utf-8")
        os.replace(tmp, target)

    def __repr__(self) -> str:
        return f"Model(flavors={sorted(self.flavors)}, model_uuid={self.model_uuid!r})"
