"""What every flavor shares: the save helper, integrity digests, and the one gate for unsafe loading.

A flavor's ``save_model`` only writes its own data files (through ``write_data``) and describes its MLmodel
sections; everything else happens here once: target checks, the temp directory that is renamed into place
(so a failure leaves nothing), code paths and extra files, the input example and signature inference,
requirements and environment files, the MLmodel file with file digests.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from tureen.exceptions import (InvalidParameterError, ModelFormatError,
                               ResourceAlreadyExistsError, SchemaEnforcementError)
# the one gate lives in tureen.flavors._gate; its names stay importable from here for existing callers
from tureen.flavors._gate import model_code, pickle_allowed, unsafe_load
from tureen.flavors._integrity import file_digests, seal_model_dir, sha256_file, verify_model_dir
from tureen.models._paths import confined_path
from tureen.models.mlmodel import Model

__all__ = ["SaveSpec", "save_model_dir", "verify_model_dir", "file_digests", "pickle_allowed",
           "unsafe_load", "model_code", "ENV_SECTION", "copy_code_paths", "warn_version_mismatch",
           "suggest_flavor"]

ENV_SECTION = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
CODE_DIR = "code"
EXTRA_FILES_DIR = "extra_files"


# ------------------------------------------------------------------------------------------------
# integrity


# ------------------------------------------------------------------------------------------------
# code paths


def copy_code_paths(dest_root: Path, code_paths: Iterable[str | os.PathLike[str]] | None) -> str | None:
    if not code_paths:
        return None
    code_dir = dest_root / CODE_DIR
    code_dir.mkdir()
    for p in code_paths:
        src = Path(p)
        if not src.exists():
            raise InvalidParameterError(f"code path {str(src)!r} does not exist")
        target = code_dir / src.name
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
    return CODE_DIR


# ------------------------------------------------------------------------------------------------
# the save helper


@dataclass
class SaveSpec:
    """What a flavor tells the shared helper about one save."""

    flavor_name: str
    #: writes the flavor's data files into the given (temp) model directory; returns the flavor section
    write_data: Callable[[Path], dict[str, Any]]
    #: the python_function section (without env / python_version), or None when pyfunc cannot load it
    pyfunc_conf: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    #: called with the example's model input to get the output for signature inference
    predict: Callable[[Any], Any] | None = None
    #: the flavor's own requirements; a function when they depend on what write_data chose (called after it)
    default_requirements: list[str] | Callable[[], list[str]] = field(default_factory=list)
    requirement_objects: list[Any] | Callable[[], list[Any]] = field(default_factory=list)
    #: validate the (possibly inferred) signature for this flavor; raise InvalidParameterError
    check_signature: Callable[[Any], None] | None = None
    #: whether to infer a signature from the example when none is given
    infer_signature_from_example: bool = True


def save_model_dir(path: str | os.PathLike[str], spec: SaveSpec, *, signature: Any = None,
                   input_example: Any = None, pip_requirements: Any = None, extra_pip_requirements: Any = None,
                   metadata: dict[str, Any] | None = None, code_paths: Any = None, extra_files: Any = None,
                   mlflow_model: Model | None = None) -> Model:
    """Build a complete model directory at ``path``, atomically. Returns the written :class:`Model`.

    Raises:
        ResourceAlreadyExistsError: ``path`` exists and is not an empty directory.
        InvalidParameterError: bad arguments (signature not matching the example, missing code path, ...).
    """
    from tureen import __version__

    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise InvalidParameterError(f"save_model needs a directory path to save into, got {path!r}")
    if "\0" in str(path):
        raise InvalidParameterError(f"The model path {str(path)!r} contains a NUL byte")
    target = Path(path).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ResourceAlreadyExistsError(f"Path {str(target)!r} already exists and is not empty; "
                                         "save into a new or empty directory")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidParameterError(f"metadata must be a dict, got {type(metadata).__name__}")
    if signature is not None and signature is not False:
        from tureen.models.signature import ModelSignature

        if not isinstance(signature, ModelSignature):
            raise InvalidParameterError(f"signature must be a ModelSignature, got {type(signature).__name__}")
    from tureen._tmp import make_temp_dir

    # beside the target (so the final rename is atomic); leftovers of killed saves are swept here
    tmp = make_temp_dir(target.parent, target.name)
    try:
        model = mlflow_model or Model()
        flavor_conf = spec.write_data(tmp)
        code = copy_code_paths(tmp, code_paths)
        if code is not None:
            flavor_conf["code"] = code
        if extra_files:
            ef_dir = tmp / EXTRA_FILES_DIR
            ef_dir.mkdir()
            entries = []
            for f in extra_files:
                src = Path(f)
                if not src.is_file():
                    raise InvalidParameterError(f"extra file {str(src)!r} does not exist or is not a file")
                shutil.copy2(src, ef_dir / src.name)
                entries.append({"path": f"{EXTRA_FILES_DIR}/{src.name}"})
            flavor_conf["extra_files"] = entries

        # input example and signature
        if input_example is not None:
            from tureen.models.example import save_example, split_example

            data, ex_params = split_example(input_example)
            if signature is None and spec.infer_signature_from_example:
                from tureen.models.signature import infer_signature

                output = None
                if spec.predict is not None:
                    # predict on the example as pyfunc will hand it to the model at load: enforced
                    from tureen.models.enforce import enforce_schema
                    from tureen.models.signature import infer_schema

                    try:
                        model_input = enforce_schema(data, infer_schema(data))
                    except InvalidParameterError:
                        model_input = data
                    try:
                        output = spec.predict(model_input)
                    except Exception as exc:  # noqa: BLE001 - the user's model failed on its own example
                        raise InvalidParameterError(
                            f"The model failed to predict on its input example, so no signature could be "
                            f"inferred: {type(exc).__name__}: {exc}") from exc
                try:
                    output = _plain_output(output)
                    signature = infer_signature(data, output, ex_params)
                except InvalidParameterError as exc:
                    raise InvalidParameterError(f"Cannot infer a signature from the input example: "
                                                f"{exc.message}") from None
            elif signature is not None and signature is not False and signature.inputs is not None:
                from tureen.models.enforce import enforce_schema

                try:
                    enforce_schema(data, signature.inputs, extra="error")
                except SchemaEnforcementError as exc:
                    raise InvalidParameterError(f"The signature does not match the input example: "
                                                f"{exc.message}") from None
            model.saved_input_example_info = save_example(tmp, input_example)
        if signature is not None and signature is not False:
            if spec.check_signature is not None:
                spec.check_signature(signature)
            model.signature = signature

        pyfunc = spec.pyfunc_conf(flavor_conf) if spec.pyfunc_conf is not None else None
        if pyfunc is not None:
            pyfunc = {**pyfunc, "env": dict(ENV_SECTION), "python_version": platform.python_version()}
            if code is not None:
                pyfunc.setdefault("code", code)
            model.add_flavor("python_function", **pyfunc)
        model.add_flavor(spec.flavor_name, **flavor_conf)
        if metadata is not None:
            model.metadata = metadata
        size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
        model.model_size_bytes = size or None

        from tureen.env import infer_requirements, write_environment

        defaults = spec.default_requirements
        objects = spec.requirement_objects
        reqs = infer_requirements(objects() if callable(objects) else objects,
                                  defaults() if callable(defaults) else defaults)
        write_environment(tmp, reqs, pip_requirements=pip_requirements,
                          extra_pip_requirements=extra_pip_requirements)
        seal_model_dir(tmp, model, version=__version__)
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return model


def _plain_output(output: Any) -> Any:
    """Outputs that infer_signature understands (e.g. framework tensors -> numpy)."""
    if output is None:
        return None
    if hasattr(output, "numpy") and callable(output.numpy) and type(output).__module__.split(".")[0] in (
            "torch", "tensorflow"):
        return output.detach().cpu().numpy() if hasattr(output, "detach") else output.numpy()
    return output


@contextlib.contextmanager
def _noop() -> Any:
    yield


def new_uuid() -> str:
    return uuid.uuid4().hex


def resolve_data_file(root: Path, rel: str | None, what: str) -> Path:
    """A model-relative file path that must exist, confined to the model directory."""
    if not rel:
        raise ModelFormatError(f"MLmodel does not name the {what} file")
    return confined_path(root, rel, f"{what} file")


def warn_version_mismatch(package: str, saved: str | None, installed: str) -> bool:
    """Warn when the framework version that saved a model differs from the installed one; True if it did.

    Example:
        >>> warn_version_mismatch("xgboost", "3.2.0", "3.2.0")
        False
    """
    if not saved or str(saved) == str(installed):
        return False
    import warnings

    warnings.warn(f"The model was saved with {package} {saved}, but {package} {installed} is installed; "
                  "loading may fail or predictions may differ", UserWarning, stacklevel=3)
    return True


def class_path(obj: Any) -> str:
    """``module.QualifiedName`` of an object's class, as MLmodel's ``model_class`` keys record it.

    Example:
        >>> class_path(1)
        'builtins.int'
    """
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def dump_pickled(obj: Any, path: Path, fmt: str) -> None:
    """Write ``obj`` to ``path`` with pickle or cloudpickle (``fmt``), at the default protocol."""
    import pickle

    dumper: Any = pickle
    if fmt == "cloudpickle":
        import cloudpickle as dumper
    with open(path, "wb") as f:
        dumper.dump(obj, f, protocol=pickle.DEFAULT_PROTOCOL)


def suggest_flavor(obj: Any) -> str:
    """A hint naming the flavor that saves ``obj`` (for UnsupportedModelError messages).

    Example:
        >>> suggest_flavor(object())
        ' For arbitrary Python objects, wrap them in a tureen.pyfunc.PythonModel.'
    """
    top = type(obj).__module__.split(".")[0]
    from tureen.flavors import FLAVORS, get_flavor

    for name in FLAVORS:  # the packages each flavor declares it saves
        try:
            if top in get_flavor(name).packages:
                return f" Use tureen.flavors.{name} for it."
        except Exception:  # noqa: BLE001 - a broken third-party flavor gives no hint
            continue
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        return " It looks like a scikit-learn estimator: use tureen.flavors.sklearn for it."
    return " For arbitrary Python objects, wrap them in a tureen.pyfunc.PythonModel."


_LOG_KWARGS = ("await_registration_for", "tags", "run_id")


def log_model_via_tracking(flavor_name: str, save: Callable[..., Any], *, name: str | None,
                           artifact_path: str | None = None, registered_model_name: str | None = None,
                           **kwargs: Any) -> Any:
    """The thin ``log_model`` every flavor shares: tracking owns runs, artifacts and registration.

    ``save(path, **save_kwargs)`` writes the model; ``kwargs`` holds the flavor's save options plus the
    logging options (``await_registration_for``, ``tags``, ``run_id``), which go to tracking.
    """
    if name is None:
        name = artifact_path
    if not name:
        raise InvalidParameterError("log_model needs a name for the model in the run (name='model')")
    log_kw = {k: kwargs.pop(k) for k in _LOG_KWARGS if k in kwargs}
    from tureen.tracking._log_model import log_model

    return log_model(flavor_name, lambda path: save(path, **kwargs), name=name,
                     registered_model_name=registered_model_name, **log_kw)
