"""Custom Python models: the :class:`PythonModel` base, ``save_model``/``log_model``, and their loader.

The loader also reads custom models saved by MLflow 3.x, without MLflow installed: their pickles refer to
``mlflow.pyfunc.model.PythonModel`` and a few MLflow helpers, which a restricted unpickler maps to tureen's
equivalents (see :class:`_CompatUnpickler`).
"""

from __future__ import annotations

import inspect
import os
import pickle
import shutil
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError, ModelFormatError, TureenError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, unsafe_load
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["PythonModel", "PythonModelContext", "save_model", "log_model", "FLAVOR", "FLAVOR_NAME"]

FLAVOR_NAME = "python_function"
LOADER_MODULE = "tureen.pyfunc.model"
PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: local paths of the model's artifacts and its config."""

    def __init__(self, artifacts: dict[str, str] | None = None, model_config: dict[str, Any] | None = None) -> None:
        self._artifacts = dict(artifacts or {})
        self._model_config = dict(model_config or {})

    @property
    def artifacts(self) -> dict[str, str]:
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any]:
        return self._model_config

    def __setstate__(self, state: dict[str, Any]) -> None:  # MLflow pickles carry these private names
        self._artifacts = dict(state.get("_artifacts") or {})
        self._model_config = dict(state.get("_model_config") or {})


class PythonModel:
    """Base class for custom models. Override ``predict``; optionally ``load_context``.

    Example:
        >>> class Doubler(PythonModel):
        ...     def predict(self, context, model_input, params=None):
        ...         return model_input * 2
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Called once at load with the artifacts' local paths; load heavy state here."""

    def predict(self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError("Subclasses of PythonModel must implement predict()")


class _FunctionModel(PythonModel):
    """A plain function saved as a model."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        return self.func(model_input)


class _MlflowFunctionModel(_FunctionModel):
    """MLflow's wrapper of a function model (``mlflow.pyfunc.model._FunctionPythonModel``), read from its
    pickle: MLflow wraps the function in its own validating decorator, pickled by value; the user's function
    is that wrapper's ``__wrapped__``, and the type-hint checks are redone here."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        func = state.get("func")
        while getattr(func, "__wrapped__", None) is not None and getattr(func, "_is_pyfunc", False):
            func = func.__wrapped__
        self.func = func  # type: ignore[assignment]


def _hinted_function(python_model: Any) -> Callable[..., Any]:
    """The function whose type hints describe the model input: a function model's function, else the
    user's ``predict``."""
    if isinstance(python_model, _FunctionModel):
        return python_model.func
    return _raw_predict(python_model)


# ------------------------------------------------------------------------------------------------
# calling predict the way the model declares it


def _raw_predict(python_model: Any) -> Callable[..., Any]:
    method = python_model.predict
    # MLflow wraps predict in a validation closure (pickled by value); call the user's function instead.
    original = getattr(type(python_model).predict, "__wrapped__", None)
    if original is not None:
        return original.__get__(python_model, type(python_model))
    return method


def _call_convention(func: Callable[..., Any]) -> tuple[bool, bool]:
    """(pass context?, pass params?) as MLflow decides it."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return True, True
    names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_params = "params" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    positional = [n for n in names if n != "params"]
    takes_context = "context" in params or len(positional) >= 2
    return takes_context, takes_params


class _PythonModelPyfunc(Predictor):
    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        super().__init__(python_model)
        self.python_model = python_model
        self.context = context
        self._func = _raw_predict(python_model)
        self._ctx, self._params = _call_convention(self._func)
        from tureen.pyfunc._type_hints import input_hint

        try:
            self._hint = input_hint(_hinted_function(python_model))
        except InvalidParameterError:
            self._hint = None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self._hint is not None:  # list[...]-hinted input: converted and checked as MLflow 3 does
            from tureen.pyfunc._type_hints import convert_input

            data = convert_input(data, self._hint)
        args = (self.context, data) if self._ctx else (data,)
        if self._params:
            return self._func(*args, params=params)
        return self._func(*args)


# ------------------------------------------------------------------------------------------------
# reading MLflow's pickles without MLflow


class _MlflowStub:
    """Stands in for MLflow helper objects referenced by a pickle; unusable if actually called."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TureenError(f"{type(self).__qualname__} is part of MLflow, which this model's code calls; "
                          "install mlflow to run it")


_MLFLOW_MAP: dict[tuple[str, str], Any] = {}


def _mapped(module: str, name: str) -> Any:
    if not _MLFLOW_MAP:
        _MLFLOW_MAP.update({
            ("mlflow.pyfunc.model", "PythonModel"): PythonModel,
            ("mlflow.pyfunc", "PythonModel"): PythonModel,
            ("mlflow.pyfunc.model", "PythonModelContext"): PythonModelContext,
            ("mlflow.pyfunc", "PythonModelContext"): PythonModelContext,
            ("mlflow.exceptions", "MlflowException"): TureenError,
            ("mlflow.pyfunc.model", "_FunctionPythonModel"): _MlflowFunctionModel,
        })
    hit = _MLFLOW_MAP.get((module, name))
    if hit is not None:
        return hit
    return type(name, (_MlflowStub,), {"__module__": module, "__qualname__": name})


class _CompatUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "mlflow" or module.startswith("mlflow."):
            return _mapped(module, name)
        return super().find_class(module, name)


def _load_python_model(file: Path, compression: str | None, allow_pickle: bool | None) -> Any:
    def load() -> Any:
        opener: Any = open
        if compression == "lzma":
            import lzma as opener_mod
            opener = opener_mod.open
        elif compression == "bzip2":
            import bz2 as opener_mod
            opener = opener_mod.open
        elif compression == "gzip":
            import gzip as opener_mod
            opener = opener_mod.open
        try:
            with opener(file, "rb") as f:
                return _CompatUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, OSError) as exc:
            raise ModelFormatError(f"The custom model {file.name} cannot be unpickled: "
                                   f"{type(exc).__name__}: {exc}") from exc

    return unsafe_load(load, what=f"custom Python model {file.name}", allow_pickle=allow_pickle)


def _context(root: Path, conf: dict[str, Any], model_config: dict[str, Any] | None) -> PythonModelContext:
    artifacts = {}
    for name, entry in (conf.get("artifacts") or {}).items():
        rel = entry.get("path") if isinstance(entry, dict) else entry
        artifacts[name] = str(resolve_data_file(root, rel, f"artifact {name!r}"))
    config = dict(conf.get("config") or {})
    config.update(model_config or {})
    return PythonModelContext(artifacts, config)


def _load_code_model(root: Path, conf: dict[str, Any], allow_pickle: bool | None,
                     model_config: dict[str, Any] | None) -> Any:
    """Run the model directory's models-from-code file (behind the gate) and return its model."""
    from tureen.exceptions import UntrustedCodeError
    from tureen.flavors._gate import require_unsafe_allowed
    from tureen.pyfunc._from_code import MODEL_CODE_PATH, run_model_code

    recorded = conf.get(MODEL_CODE_PATH)
    if not isinstance(recorded, str) or not recorded.strip() or "\x00" in recorded:
        raise ModelFormatError(f"MLmodel's {MODEL_CODE_PATH} must name a file, got {recorded!r}")
    # MLflow records the path the file had when it was logged; the copy is the file of that name here
    name = recorded.replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", ".."):
        raise ModelFormatError(f"MLmodel's {MODEL_CODE_PATH} {recorded!r} does not name a file")
    file = resolve_data_file(root, name, "model code")
    if not file.is_file():
        raise ModelFormatError(f"The model code file {name!r} is missing from the model directory")
    require_unsafe_allowed(f"the model's code file {name!r} (a model from code: loading it runs it)",
                           allow_pickle, error=UntrustedCodeError)
    model = run_model_code(file, model_config)
    if not isinstance(model, PythonModel) and callable(model) and not hasattr(model, "predict"):
        model = _FunctionModel(model)
    return model


# ------------------------------------------------------------------------------------------------
# saving


def _copy_artifacts(root: Path, artifacts: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Copy artifacts into the model; return (MLmodel section, name -> local path)."""
    if not artifacts:
        return {}, {}
    if not isinstance(artifacts, dict):
        raise InvalidParameterError("artifacts must be a dict of name -> local path or URI")
    from tureen.uri import split_scheme

    section: dict[str, Any] = {}
    local: dict[str, str] = {}
    (root / ARTIFACTS_DIR).mkdir()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tureen-artifact-downloads-") as downloads:
        for name, uri in artifacts.items():
            if not isinstance(name, str) or not name or not isinstance(uri, (str, os.PathLike)) or not str(uri):
                raise InvalidParameterError(f"artifacts must map non-empty names to local paths or URIs; got "
                                            f"{name!r}: {uri!r}")
            scheme, _ = split_scheme(str(uri))
            if scheme not in ("", "file"):
                from tureen.artifacts._download import download_artifact_uri  # tracking's repositories

                src = download_artifact_uri(str(uri), Path(downloads) / str(len(section)))
            else:
                from tureen.uri import _local_path

                src = _local_path(str(uri))
            if not src.exists():
                raise InvalidParameterError(f"artifact {name!r}: {str(uri)!r} does not exist")
            dest = root / ARTIFACTS_DIR / src.name
            if dest.exists():
                raise InvalidParameterError(f"artifact {name!r}: another artifact is already named {src.name!r}")
            if src.is_dir():
                shutil.copytree(src, dest)
            else:
                shutil.copy2(src, dest)
            section[name] = {"path": f"{ARTIFACTS_DIR}/{src.name}", "uri": str(uri)}
            local[name] = str(dest)
    return section, local


class PythonModelFlavor(Flavor):
    """Custom models: a cloudpickled :class:`PythonModel` (or function) in the python_function section."""

    name = FLAVOR_NAME
    loader_module = LOADER_MODULE
    also_reads = ("mlflow.pyfunc.model", "mlflow.pyfunc.loaders.code_model")  # the latter: models from code
    packages = {"cloudpickle": "cloudpickle"}

    def write(self, model: Any, root: Path, *, artifacts: dict[str, Any] | None = None,
              model_config: dict[str, Any] | None = None, model_code: str | None = None) -> Written:
        """Pickle the model (or, for models from code, copy its file) and copy its artifacts; the section
        written is python_function itself."""
        python_model = model
        if python_model is None:
            raise InvalidParameterError("save_model needs python_model=<a PythonModel instance or a function>")
        if isinstance(python_model, type):
            raise UnsupportedModelError(f"python_model must be an instance, got the class {python_model.__name__}")
        if not isinstance(python_model, PythonModel):
            if callable(python_model) and not hasattr(python_model, "predict"):
                python_model = _FunctionModel(python_model)
            elif not callable(getattr(python_model, "predict", None)):
                raise UnsupportedModelError(f"python_model must be a tureen.pyfunc.PythonModel or a function, got "
                                            f"{type(python_model).__module__}.{type(python_model).__qualname__}")
        if model_config is not None and not isinstance(model_config, dict):
            raise InvalidParameterError("model_config must be a dict")
        import platform

        import cloudpickle

        from tureen.flavors._base import ENV_SECTION

        section, local = _copy_artifacts(root, artifacts)
        if model_code is None:
            with open(root / PYTHON_MODEL_FILE, "wb") as f:
                cloudpickle.dump(python_model, f)
        else:  # models from code: the file is the model; nothing is pickled
            code_name = os.path.basename(model_code)
            if (root / code_name).exists():
                raise InvalidParameterError(f"The model code file name {code_name!r} is taken by another file of "
                                            "the model; rename the file")
            shutil.copy2(model_code, root / code_name)
        context = PythonModelContext(local, model_config)

        def predict(data: Any) -> Any:
            python_model.load_context(context)
            return _PythonModelPyfunc(python_model, context).predict(data)

        conf: dict[str, Any] = {"loader_module": LOADER_MODULE, "python_model": PYTHON_MODEL_FILE,
                                "cloudpickle_version": cloudpickle.__version__,
                                "streamable": type(python_model).__dict__.get("predict_stream") is not None}
        requirements = ["cloudpickle"]
        if model_code is not None:
            from tureen.pyfunc._from_code import MLFLOW_CODE_LOADER, MODEL_CODE_PATH

            # MLflow's own loader name: with nothing pickled, MLflow reads the directory where tureen is not
            # installed (tureen reads that name too, behind its gate)
            del conf["python_model"], conf["cloudpickle_version"]
            conf["loader_module"] = MLFLOW_CODE_LOADER
            conf[MODEL_CODE_PATH] = os.path.basename(model_code)
            requirements = []
        if section:
            conf["artifacts"] = section
        if model_config:
            conf["config"] = model_config
        conf.update({"code": None, "env": dict(ENV_SECTION), "python_version": platform.python_version()})
        # the flavor section is python_function itself: no second pyfunc section
        return Written(conf=conf, pyfunc=None, predict=predict, requirements=requirements,
                       requirement_objects=[python_model])

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None,
             model_config: dict[str, Any] | None = None) -> Any:
        from tureen.pyfunc._from_code import MODEL_CODE_PATH

        if conf.get(MODEL_CODE_PATH) is not None:
            return _load_code_model(root, conf, allow_pickle, model_config)
        file = resolve_data_file(root, conf.get("python_model"), "python model")
        return _load_python_model(file, conf.get("python_model_compression"), allow_pickle)

    def load_pyfunc(self, root: Path, *, allow_pickle: bool | None = None,
                    model_config: dict[str, Any] | None = None, meta: Any = None) -> Predictor:
        """As the base, but a models-from-code file runs with the model config in effect."""
        from tureen.models.mlmodel import Model

        root = Path(root)
        meta = meta if meta is not None else Model.load(root)
        conf = meta.get_flavor(self.name)
        config = dict(conf.get("config") or {})
        config.update(model_config or {})
        raw = self.read(root, conf, allow_pickle=allow_pickle, model_config=config)
        return self.predictor(raw, root=root, conf=conf, model_config=model_config, meta=meta)

    def save_model(self, model: Any, path: str | os.PathLike[str], *, signature: Any = None,
                   mlflow_model: Any = None, **kwargs: Any) -> Any:
        """As the base, plus MLflow 3's two ways of describing a custom model without pickles and
        signatures: ``model`` may be the path of a models-from-code file (run now, copied, run again at
        load), and a ``list[...]`` type hint on the model input gives the signature."""
        model_code = None
        if isinstance(model, (str, os.PathLike)):
            from tureen.pyfunc._from_code import run_model_code

            model_code = os.fspath(model)
            if not os.path.isfile(model_code):
                raise InvalidParameterError(f"python_model {model_code!r} is not a file: pass a PythonModel, a "
                                            "function, or the path of a models-from-code file")
            model = run_model_code(model_code, kwargs.get("model_config"))
            kwargs["model_code"] = model_code
        if signature is None and not isinstance(model, type) and (
                callable(model) or callable(getattr(model, "predict", None))):
            from tureen.pyfunc._type_hints import signature_from_hints

            target = model if not isinstance(model, PythonModel) and callable(model) \
                and not hasattr(model, "predict") else _hinted_function(model)
            hinted = signature_from_hints(target) if callable(target) else None
            if hinted is not None:
                from tureen.models.mlmodel import Model

                signature = hinted
                mlflow_model = mlflow_model or Model()
                mlflow_model.is_signature_from_type_hint = True
        return super().save_model(model, path, signature=signature, mlflow_model=mlflow_model, **kwargs)

    def predictor(self, raw: Any, *, root: Path, conf: dict[str, Any], model_config: dict[str, Any] | None,
                  **context: Any) -> Predictor:
        ctx = _context(root, conf, model_config)
        if hasattr(raw, "load_context"):
            raw.load_context(ctx)
        return _PythonModelPyfunc(raw, ctx)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """Custom models are cloudpickled: loading always passes the unsafe gate."""
        return True


FLAVOR = PythonModelFlavor()
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc


def save_model(path: str | os.PathLike[str], python_model: Any = None, *, artifacts: dict[str, Any] | None = None,
               code_paths: Any = None, signature: Any = None, input_example: Any = None,
               pip_requirements: Any = None, extra_pip_requirements: Any = None,
               metadata: dict[str, Any] | None = None, model_config: dict[str, Any] | None = None,
               mlflow_model: Any = None) -> Any:
    """Save a custom :class:`PythonModel` (or a plain function) as an MLmodel directory.

    MLflow's argument order (``path`` first, ``python_model=`` by keyword); the work is
    :meth:`PythonModelFlavor.write` under the shared :meth:`Flavor.save_model`.

    Args:
        path: a new (or empty) directory.
        python_model: a PythonModel instance, or a function ``f(model_input)``.
        artifacts: ``{name: local path or URI}`` copied into the model; at load ``context.artifacts[name]``
            is the local path.
        code_paths: files or directories copied into ``code/`` and put on ``sys.path`` at load.
        model_config: a dict available as ``context.model_config``.

    Example:
        >>> save_model("doubler", python_model=Doubler())  # doctest: +SKIP
    """
    return FLAVOR.save_model(python_model, path, artifacts=artifacts, model_config=model_config,
                             code_paths=code_paths, signature=signature, input_example=input_example,
                             pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
                             metadata=metadata, mlflow_model=mlflow_model)


def log_model(name: str | None = None, python_model: Any = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> Any:
    """Save a custom model into the active run's artifacts (and register it); returns a ModelInfo.

    Example:
        >>> log_model(name="model", python_model=Doubler())  # doctest: +SKIP
    """
    return FLAVOR.log_model(python_model, name, artifact_path=artifact_path,
                            registered_model_name=registered_model_name, **kwargs)
