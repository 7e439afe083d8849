"""Models from code: a Python file that builds the model and hands it over with ``set_model(model)``.

``tureen.pyfunc.log_model(python_model="model.py")`` (MLflow's spelling) runs the file once at save time,
copies it into the model directory and records it as ``python_function.model_code_path``; loading runs
the copy again instead of unpickling anything. MLflow writes the same layout under the loader name
``mlflow.pyfunc.loaders.code_model``, which tureen writes too: its models-from-code directories load here,
and ours load in MLflow where tureen is not installed.

Running a model directory's file is code execution: at load it passes the one gate
(:func:`tureen.flavors._gate.require_unsafe_allowed`, as pickles and ``code/`` do), and the file must be a
plain file inside the model directory.

A file written for MLflow (``import mlflow`` ... ``mlflow.models.set_model(...)``) runs unchanged where
MLflow is not installed: while it runs, ``import mlflow`` and ``import mlflow.<part>`` resolve to tureen's
modules of the same names, and afterwards those names are removed from ``sys.modules`` again. Where MLflow
is installed, ``import mlflow`` is the real MLflow, and the model its ``set_model`` received is taken.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
import uuid
from pathlib import Path
from typing import Any, Iterator

from tureen.exceptions import InvalidParameterError, ModelFormatError

__all__ = ["set_model", "ModelConfig", "run_model_code", "MODEL_CODE_PATH", "MLFLOW_CODE_LOADER"]

MODEL_CODE_PATH = "model_code_path"
#: the loader_module MLflow writes (and reads) for models from code
MLFLOW_CODE_LOADER = "mlflow.pyfunc.loaders.code_model"

_lock = threading.RLock()
_current: dict[str, Any] = {"model": None, "config": None, "active": False}


def set_model(model: Any) -> None:
    """Hand the model built by a models-from-code file to ``log_model``/``load_model``.

    Raises:
        InvalidParameterError: not a :class:`~tureen.pyfunc.PythonModel` or a callable.

    Example:
        >>> set_model(lambda model_input: model_input)
    """
    from tureen.pyfunc.model import PythonModel

    if isinstance(model, str) or not (isinstance(model, PythonModel) or callable(model)):
        raise InvalidParameterError("set_model takes the model object (a PythonModel instance or a function), "
                                    f"got {type(model).__name__}")
    _current["model"] = model


class ModelConfig:
    """The ``model_config`` a models-from-code file was loaded with (``log_model(model_config=...)``), or,
    outside a load, ``development_config`` (a dict or a YAML file path).

    Example:
        >>> ModelConfig(development_config={"temperature": 0.1}).get("temperature")
        0.1
    """

    def __init__(self, *, development_config: str | os.PathLike[str] | dict[str, Any] | None = None) -> None:
        config = _current["config"] if _current["active"] and _current["config"] is not None else development_config
        self.config = _read_config(config)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.config)

    def get(self, key: str) -> Any:
        if key not in self.config:
            raise KeyError(f"Key {key!r} not found in the model config")
        return self.config[key]


def _read_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    if isinstance(config, (str, os.PathLike)):
        import yaml

        try:
            with open(config, encoding="utf-8") as f:
                value = yaml.safe_load(f)
        except OSError as exc:
            raise InvalidParameterError(f"Cannot read the model config file {str(config)!r}: {exc}") from None
        except yaml.YAMLError as exc:
            raise InvalidParameterError(f"The model config file {str(config)!r} is not YAML: {exc}") from None
        if not isinstance(value, dict):
            raise InvalidParameterError(f"The model config file {str(config)!r} must hold a mapping")
        return value
    raise InvalidParameterError(f"model_config must be a dict or a YAML file path, got {type(config).__name__}")


# ------------------------------------------------------------------------------------------------
# `import mlflow` inside a model file, where MLflow is not installed


class _MlflowAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``mlflow`` and ``mlflow.<x>`` to ``tureen`` and ``tureen.<x>`` (flavors included)."""

    @staticmethod
    def _target(fullname: str) -> str | None:
        if fullname == "mlflow":
            return "tureen"
        if not fullname.startswith("mlflow."):
            return None
        first, _, rest = fullname[len("mlflow."):].partition(".")
        import tureen

        if first in tureen._LAZY:
            base = tureen._LAZY[first]
        elif first in tureen._flavor_modules():
            base = tureen._flavor_modules()[first]
        else:
            return None
        return f"{base}.{rest}" if rest else base

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        name = self._target(fullname)
        if name is None:
            return None
        try:
            target_module = importlib.import_module(name)
        except ImportError:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=hasattr(target_module, "__path__"))

    def __init__(self) -> None:
        self._specs: dict[int, Any] = {}

    def create_module(self, spec: Any) -> types.ModuleType:
        module = importlib.import_module(self._target(spec.name))  # type: ignore[arg-type]
        self._specs[id(module)] = (module.__spec__, getattr(module, "__loader__", None))
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """The tureen module is already imported: nothing to run but to give it back its own spec (the
        import machinery set the ``mlflow`` one on it)."""
        saved = self._specs.pop(id(module), None)
        if saved is not None:
            module.__spec__, module.__loader__ = saved


def _real_mlflow_installed() -> bool:
    loaded = sys.modules.get("mlflow")
    if loaded is not None:
        return getattr(loaded, "__name__", None) != "tureen"
    return importlib.util.find_spec("mlflow") is not None


#: where MLflow keeps what its ``set_model`` got and the config its ``ModelConfig`` reads (module, attribute)
_MLFLOW_MODEL = ("mlflow.models.model", "__mlflow_model__")
_MLFLOW_CONFIG = ("mlflow.models.model_config", "__mlflow_model_config__")


@contextlib.contextmanager
def _real_mlflow_state(config: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """While a file runs beside the real MLflow: its ``ModelConfig`` reads ``config`` (if any), its
    ``set_model`` starts empty, the yielded dict receives what the file gave it (``{"model": ...}``), and
    MLflow's previous values are put back."""
    if config is not None:
        importlib.import_module(_MLFLOW_CONFIG[0])
    saved = {}
    for (module_name, attr), value in ((_MLFLOW_MODEL, None), (_MLFLOW_CONFIG, config)):
        module = sys.modules.get(module_name)
        if module is not None:
            saved[module_name] = getattr(module, attr, None)
            setattr(module, attr, value)
    found: dict[str, Any] = {}
    try:
        yield found
    finally:
        for module_name, attr in (_MLFLOW_MODEL, _MLFLOW_CONFIG):
            module = sys.modules.get(module_name)
            if module is None:
                continue
            if module_name == _MLFLOW_MODEL[0]:
                found["model"] = getattr(module, attr, None)
            setattr(module, attr, saved.get(module_name))


@contextlib.contextmanager
def _mlflow_names(config: dict[str, Any] | None = None, *, mentions_mlflow: bool = True) -> Iterator[dict[str, Any]]:
    """``import mlflow`` while a model file runs: tureen's modules, or the real MLflow where installed (then
    it sees ``config`` and the yielded dict receives the model its ``set_model`` got)."""
    if _real_mlflow_installed():
        with _real_mlflow_state(config if mentions_mlflow else None) as found:
            yield found
        return
    finder = _MlflowAlias()
    before = {n for n in sys.modules if n == "mlflow" or n.startswith("mlflow.")}
    sys.meta_path.insert(0, finder)
    try:
        yield {}
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if (n == "mlflow" or n.startswith("mlflow.")) and n not in before]:
            del sys.modules[name]


# ------------------------------------------------------------------------------------------------
# running a model file


def run_model_code(path: str | os.PathLike[str], model_config: Any = None) -> Any:
    """Run a models-from-code file and return the model it passed to :func:`set_model`.

    The caller decides whether the file may run (at load: the gate). No bytecode is written.

    Raises:
        ModelFormatError: the file is missing, fails, or never calls ``set_model``.
    """
    file = Path(path)
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFormatError(f"Cannot read the model code file {str(file)!r}: {exc}") from None
    except UnicodeDecodeError:
        raise ModelFormatError(f"The model code file {str(file)!r} is not UTF-8 text") from None
    name = f"tureen_code_model_{uuid.uuid4().hex}"
    module = types.ModuleType(name)
    module.__file__ = str(file)
    config = _read_config(model_config) if model_config is not None else None
    with _lock:
        saved = dict(_current)
        _current.update(model=None, config=config, active=True)
        sys.modules[name] = module
        try:
            with _mlflow_names(config, mentions_mlflow="mlflow" in source) as theirs:
                code = compile(source, str(file), "exec")
                exec(code, module.__dict__)  # noqa: S102 - models from code: the gate was passed by the caller
            model = _current["model"] if _current["model"] is not None else theirs.get("model")
        except (ModelFormatError, InvalidParameterError):
            raise
        except SyntaxError as exc:
            raise ModelFormatError(f"The model code file {file.name!r} is not valid Python: {exc}") from None
        except Exception as exc:
            raise ModelFormatError(f"The model code file {file.name!r} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            _current.update(saved)
    if model is None:
        raise ModelFormatError(f"The model code file {file.name!r} did not call set_model(model) "
                               "(tureen.models.set_model / mlflow.models.set_model)")
    return model
