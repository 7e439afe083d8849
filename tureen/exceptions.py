"""The one error hierarchy of tureen.

Every error tureen raises on purpose is a :class:`TureenError`. Each class carries an ``error_code``
(MLflow's name where MLflow has one, so REST clients of either tool understand it) and the HTTP status
the serving and tracking layers answer with. The tree::

    TureenError                              INTERNAL_ERROR           500
    ├── InvalidParameterError                INVALID_PARAMETER_VALUE  400
    │   ├── SchemaEnforcementError           INVALID_PARAMETER_VALUE  400  (lists every bad field)
    │   ├── UnsupportedModelError            INVALID_PARAMETER_VALUE  400  (object a flavor cannot save)
    │   ├── InvalidInputError                INVALID_PARAMETER_VALUE  400  (a CLI input file, a payload value)
    │   └── InvalidSettingError              INVALID_PARAMETER_VALUE  400  (a setting not in its accepted spellings)
    ├── BadRequestError                      BAD_REQUEST              400
    │   ├── MalformedRequestError            MALFORMED_REQUEST        400  (HTTP body not parseable)
    │   └── UnsupportedMediaTypeError        BAD_REQUEST              415
    ├── ResourceNotFoundError                RESOURCE_DOES_NOT_EXIST  404
    ├── ResourceAlreadyExistsError           RESOURCE_ALREADY_EXISTS  400
    ├── InvalidStateError                    INVALID_STATE            400
    ├── ModelFormatError                     INVALID_MODEL            400  (no/corrupt MLmodel, missing file)
    │   ├── ModelIntegrityError              MODEL_INTEGRITY_FAILED   400  (digest mismatch: tampered/truncated)
    │   │   └── UnverifiedModelError         MODEL_INTEGRITY_FAILED   400  (no digests, verified models required)
    │   ├── ModelPathError                   INVALID_MODEL            400  (a path leaves the model dir, symlink)
    │   └── ArchiveLimitError                INVALID_MODEL            400  (a zip over its decompression limits)
    ├── UnsafeDeserializationError           PERMISSION_DENIED        403  (pickle load refused by the gate)
    │   └── UntrustedCodeError               PERMISSION_DENIED        403  (code the artifact names: loader
    │                                                                       module, code/ dir, class path)
    ├── MissingDependencyError               MISSING_DEPENDENCY       500  (names the extra to install)
    ├── RequestTooLargeError                 REQUEST_LIMIT_EXCEEDED   413
    ├── PredictionTimeoutError               DEADLINE_EXCEEDED        504
    ├── ModelPredictionError                 INTERNAL_ERROR           500  (the model itself raised)
    ├── StoreUnavailableError                TEMPORARILY_UNAVAILABLE  503  (database unreachable)
    ├── ContainerEngineError                 CONTAINER_ENGINE_UNAVAILABLE 503  (no Docker engine/CLI, bad base image)
    ├── ImageBuildError                      IMAGE_BUILD_FAILED       500  (a docker build step failed)
    └── ProjectError                         INVALID_PARAMETER_VALUE  400  (MLproject, entry point, source)
        ├── ProjectParameterError            INVALID_PARAMETER_VALUE  400  (names the parameter; no run made)
        ├── ProjectEnvironmentError          ENVIRONMENT_SETUP_FAILED 500  (installer's output; no conda)
        ├── ProjectBackendError              BAD_REQUEST              400  (unsupported backend, kubectl)
        └── ProjectRunFailedError            RUN_FAILED               500  (the entry point exited non-zero)

``TureenError.to_json()`` gives the wire form ``{"error_code": ..., "message": ...}`` and
:func:`error_from_json` turns one back into the matching class.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TureenError",
    "InvalidParameterError",
    "SchemaEnforcementError",
    "UnsupportedModelError",
    "InvalidInputError",
    "InvalidSettingError",
    "BadRequestError",
    "MalformedRequestError",
    "UnsupportedMediaTypeError",
    "ResourceNotFoundError",
    "ResourceAlreadyExistsError",
    "InvalidStateError",
    "ModelFormatError",
    "ModelIntegrityError",
    "UnverifiedModelError",
    "UnverifiedModelWarning",
    "ModelPathError",
    "ArchiveLimitError",
    "UnsafeDeserializationError",
    "UntrustedCodeError",
    "MissingDependencyError",
    "RequestTooLargeError",
    "PredictionTimeoutError",
    "ModelPredictionError",
    "StoreUnavailableError",
    "ContainerEngineError",
    "ImageBuildError",
    "ProjectError",
    "ProjectParameterError",
    "ProjectEnvironmentError",
    "ProjectBackendError",
    "ProjectRunFailedError",
    "error_from_json",
    "MlflowException",
]


class TureenError(Exception):
    """Base of every error tureen raises on purpose.

    Example:
        >>> raise TureenError("boom")  # doctest: +SKIP
    """

    error_code: str = "INTERNAL_ERROR"
    http_status: int = 500

    def __init__(self, message: str, *, error_code: str | None = None, http_status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if http_status is not None:
            self.http_status = http_status
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        """The wire form used by the REST and scoring layers."""
        body: dict[str, Any] = {"error_code": self.error_code, "message": self.message}
        body.update(self.details)
        return body

    def get_http_status_code(self) -> int:
        """MLflow's name for :attr:`http_status`."""
        return self.http_status


class InvalidParameterError(TureenError):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class SchemaEnforcementError(InvalidParameterError):
    """Input does not fit the model's signature; ``problems`` lists every bad field."""

    def __init__(self, message: str, problems: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.problems = list(problems or [])
        self.details.setdefault("error_class", "SCHEMA_ENFORCEMENT_FAILED")


class UnsupportedModelError(InvalidParameterError):
    pass


class InvalidInputError(InvalidParameterError):
    pass


class InvalidSettingError(InvalidParameterError):
    """A setting (environment variable or option) holds a value outside its documented spellings."""


class BadRequestError(TureenError):
    error_code = "BAD_REQUEST"
    http_status = 400


class MalformedRequestError(BadRequestError):
    error_code = "MALFORMED_REQUEST"


class UnsupportedMediaTypeError(BadRequestError):
    http_status = 415


class ResourceNotFoundError(TureenError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class ResourceAlreadyExistsError(TureenError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class InvalidStateError(TureenError):
    error_code = "INVALID_STATE"
    http_status = 400


class ModelFormatError(TureenError):
    error_code = "INVALID_MODEL"
    http_status = 400


class ModelIntegrityError(ModelFormatError):
    error_code = "MODEL_INTEGRITY_FAILED"


class UnverifiedModelError(ModelIntegrityError):
    """The model records no digests (or not for its MLmodel) and the caller asked for verified models only."""


class ModelPathError(ModelFormatError):
    """A path the model names (or a symlink inside it) points outside the model directory."""


class UnverifiedModelWarning(UserWarning):
    """A model is loaded without an integrity check: it records no digests (e.g. saved by MLflow)."""


class ArchiveLimitError(ModelFormatError):
    """A zip inside a model would decompress past the caller's limits (size, ratio, entry count)."""


class UnsafeDeserializationError(TureenError):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class UntrustedCodeError(UnsafeDeserializationError):
    """The model names code to import or run (a loader module, a ``code/`` directory, a class path) that
    the gate refuses: not on the allow-list, outside the model directory, or pickle-class loading is off."""


class MissingDependencyError(TureenError):
    error_code = "MISSING_DEPENDENCY"
    http_status = 500


class RequestTooLargeError(TureenError):
    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class PredictionTimeoutError(TureenError):
    error_code = "DEADLINE_EXCEEDED"
    http_status = 504


class ModelPredictionError(TureenError):
    error_code = "INTERNAL_ERROR"
    http_status = 500


class StoreUnavailableError(TureenError):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class ContainerEngineError(TureenError):
    """The Docker engine (or its CLI) is not reachable, or it cannot run/pull an image."""

    error_code = "CONTAINER_ENGINE_UNAVAILABLE"
    http_status = 503


class ImageBuildError(TureenError):
    """A ``docker build`` step failed; the message names the step and quotes its errors."""

    error_code = "IMAGE_BUILD_FAILED"
    http_status = 500


class ProjectError(TureenError):
    """A project cannot be run as given: its MLproject file, entry point, source URI or version."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class ProjectParameterError(ProjectError):
    """A project parameter is missing or does not fit its type (``details["parameter"]`` names it)."""


class ProjectEnvironmentError(ProjectError):
    """The project's environment cannot be made (no conda executable, the installer failed: its output)."""

    error_code = "ENVIRONMENT_SETUP_FAILED"
    http_status = 500


class ProjectBackendError(ProjectError):
    """The backend is unsupported here (databricks) or refused the run (kubectl, docker run)."""

    error_code = "BAD_REQUEST"
    http_status = 400


class ProjectRunFailedError(ProjectError):
    """The entry point ran and exited non-zero (``details``: ``run_id``, ``returncode``)."""

    error_code = "RUN_FAILED"
    http_status = 500


#: MLflow's name for the base class, so ``except mlflow.MlflowException`` works after ``import tureen as mlflow``
MlflowException = TureenError

_BY_CODE: dict[str, type[TureenError]] = {}
for _cls in (InvalidParameterError, BadRequestError, MalformedRequestError, ResourceNotFoundError,
             ResourceAlreadyExistsError, InvalidStateError, ModelFormatError, ModelIntegrityError,
             UnsafeDeserializationError, MissingDependencyError, RequestTooLargeError,
             PredictionTimeoutError, StoreUnavailableError, ContainerEngineError, ImageBuildError,
             ProjectEnvironmentError, ProjectRunFailedError):
    _BY_CODE.setdefault(_cls.error_code, _cls)


def error_from_json(body: dict[str, Any], http_status: int | None = None) -> TureenError:
    """Turn a ``{"error_code", "message"}`` body (ours or MLflow's) back into a typed error.

    Example:
        >>> error_from_json({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "x"}).http_status
        404
    """
    code = str(body.get("error_code") or "INTERNAL_ERROR")
    cls = _BY_CODE.get(code, TureenError)
    extra = {k: v for k, v in body.items() if k not in ("error_code", "message")}
    return cls(str(body.get("message", "")), error_code=code, http_status=http_status, details=extra)
