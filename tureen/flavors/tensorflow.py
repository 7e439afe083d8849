"""The TensorFlow / Keras flavor: Keras 3 models as ``.keras`` files, ``tf.Module`` objects as SavedModels.

* A Keras 3 model (``keras.Model``) is saved as MLflow's ``keras`` flavor: ``data/model.keras`` (the Keras v3
  zip of JSON config + weights, no pickle) and ``loader_module: mlflow.keras``. It loads with Keras'
  ``safe_mode``; a model whose config carries Python bytecode (``Lambda`` layers) needs the unsafe gate.
* A ``tf.Module`` is saved as MLflow's ``tensorflow`` flavor with ``model_type: tf2-module``: a
  ``tf.saved_model.save`` directory ``tf2model/`` and ``loader_module: mlflow.tensorflow``.

Models MLflow writes load too: the ``keras`` flavor (``.keras`` file or the exported SavedModel of
``save_exported_model=True``) and the ``tensorflow`` flavor (``model_type`` ``keras``, ``tf2-module`` and the
old ``tf1-estimator``). MLflow's ``custom_objects.cloudpickle`` files pass the unsafe gate.

pyfunc ``predict`` accepts DataFrames, arrays and dicts of arrays (multi-input models) and returns what
MLflow returns: a DataFrame (same index) for DataFrame input, numpy arrays otherwise (a dict or list of arrays
for multi-output models).
"""

from __future__ import annotations

import functools

import os
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import (SaveSpec, log_model_via_tracking, resolve_data_file, save_model_dir,
                                  suggest_flavor, unsafe_load, verify_model_dir, warn_version_mismatch)

__all__ = ["FLAVOR_NAME", "KERAS_FLAVOR_NAME", "save_model", "log_model", "load_model",
           "get_default_pip_requirements"]

FLAVOR_NAME = "tensorflow"
KERAS_FLAVOR_NAME = "keras"
DATA_DIR = "data"
KERAS_FILE = "model.keras"
KERAS_MODULE_FILE = "keras_module.txt"
TF2_DIR = "tf2model"
CUSTOM_OBJECT_FILES = ("custom_objects.cloudpickle", "global_custom_objects.cloudpickle")
#: TensorFlow's runtime deadlocks in children forked after a SavedModel was loaded: servers must load per worker
FORK_SAFE = False
DIRECT_CALL_ROWS = 4096  # below this, call the model directly (much faster than Model.predict)


def _installed(*dists: str) -> str:
    from tureen.env import _version, pin

    for d in dists:
        if _version(d):
            return pin(d)
    return dists[0]


def get_default_pip_requirements(keras_model: bool = True) -> list[str]:
    """``tensorflow==<installed>`` (the CPU wheel's name when that is what is installed), plus ``keras``.

    Example:
        >>> get_default_pip_requirements()  # doctest: +SKIP
        ['keras==3.15.1', 'tensorflow-cpu==2.21.0']
    """
    reqs = [_installed("tensorflow", "tensorflow-cpu")]
    if keras_model:
        reqs.insert(0, _installed("keras"))
    return reqs


def _tf() -> Any:
    from tureen._optional import import_optional

    return import_optional("tensorflow", "the tensorflow flavor")


def _keras() -> Any:
    from tureen._optional import import_optional

    return import_optional("keras", "the tensorflow flavor (Keras models)")


def _is_keras_model(obj: Any) -> bool:
    # decide by class names first so that a non-Keras object never imports Keras
    if not any(c.__module__.split(".")[0] in ("keras", "tf_keras") for c in type(obj).__mro__):
        return False
    return isinstance(obj, _keras().Model)


def _is_tf_module(obj: Any) -> bool:
    if not any(c.__module__.split(".")[0] == "tensorflow" for c in type(obj).__mro__):
        return False
    return isinstance(obj, _tf().Module)


def _check_signature(signature: Any) -> None:
    inputs = signature.inputs
    if inputs is None or not inputs.is_tensor_spec():
        return
    for spec in inputs.inputs:
        if not spec.shape or spec.shape[0] != -1:
            raise InvalidParameterError(f"Every tensor input of a TensorFlow model signature needs a variable "
                                        f"first (batch) dimension -1; got shape {list(spec.shape)}")


def save_model(model: Any, path: str | os.PathLike[str], *, signature: Any = None, input_example: Any = None,
               pip_requirements: Any = None, extra_pip_requirements: Any = None,
               metadata: dict[str, Any] | None = None, code_paths: Any = None, extra_files: Any = None,
               mlflow_model: Any = None) -> Any:
    """Save a Keras 3 model or a ``tf.Module`` as an MLmodel directory at ``path``.

    Args:
        model: a ``keras.Model`` (saved as ``data/model.keras``) or a ``tf.Module`` with a traced
            ``__call__`` (saved as a SavedModel in ``tf2model/``).
        path: a new (or empty) directory.
        signature: a :class:`~tureen.models.ModelSignature`; inferred from ``input_example`` when omitted.
            Tensor inputs need a variable first dimension (-1).
        input_example: a DataFrame, an array, or a dict of arrays for multi-input models.

    Returns:
        The written :class:`~tureen.models.Model`.

    Example:
        >>> save_model(keras_model, "keras_model", input_example=x[:4])  # doctest: +SKIP
    """
    if isinstance(model, type):
        raise UnsupportedModelError(f"save_model needs a model instance, got the class {model.__name__}")
    if _is_keras_model(model):
        return _save_keras(model, path, signature=signature, input_example=input_example,
                           pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
                           metadata=metadata, code_paths=code_paths, extra_files=extra_files,
                           mlflow_model=mlflow_model)
    if _is_tf_module(model):
        return _save_module(model, path, signature=signature, input_example=input_example,
                            pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
                            metadata=metadata, code_paths=code_paths, extra_files=extra_files,
                            mlflow_model=mlflow_model)
    raise UnsupportedModelError(f"The tensorflow flavor saves Keras 3 models (keras.Model) and tf.Module "
                                f"objects; got {type(model).__module__}.{type(model).__qualname__}."
                                + suggest_flavor(model))


def _save_keras(model: Any, path: Any, **kw: Any) -> Any:
    keras = _keras()

    def write_data(root: Path) -> dict[str, Any]:
        data = root / DATA_DIR
        data.mkdir()
        (data / KERAS_MODULE_FILE).write_text("keras", encoding="utf-8")
        model.save(str(data / KERAS_FILE))
        return {"data": DATA_DIR, "keras_version": keras.__version__, "keras_backend": keras.backend.backend(),
                "save_exported_model": False}

    def pyfunc_conf(conf: dict[str, Any]) -> dict[str, Any]:
        return {"loader_module": "mlflow.keras"}

    reqs = [_installed("keras")]
    if keras.backend.backend() == "tensorflow":
        reqs.append(_installed("tensorflow", "tensorflow-cpu"))
    elif keras.backend.backend() == "torch":
        reqs.append(_installed("torch"))
    elif keras.backend.backend() == "jax":
        reqs.append(_installed("jax"))
    spec = SaveSpec(flavor_name=KERAS_FLAVOR_NAME, write_data=write_data, pyfunc_conf=pyfunc_conf,
                    predict=_KerasPyfunc(model).predict, default_requirements=reqs,
                    check_signature=_check_signature)
    return save_model_dir(path, spec, **kw)


def _save_module(module: Any, path: Any, **kw: Any) -> Any:
    tf = _tf()

    def write_data(root: Path) -> dict[str, Any]:
        tf.saved_model.save(module, str(root / TF2_DIR))
        return {"saved_model_dir": TF2_DIR, "model_type": "tf2-module", "code": None}

    def pyfunc_conf(conf: dict[str, Any]) -> dict[str, Any]:
        return {"loader_module": "mlflow.tensorflow"}

    spec = SaveSpec(flavor_name=FLAVOR_NAME, write_data=write_data, pyfunc_conf=pyfunc_conf,
                    predict=_ModulePyfunc(module).predict,
                    default_requirements=get_default_pip_requirements(keras_model=False),
                    check_signature=_check_signature)
    return save_model_dir(path, spec, **kw)


def log_model(model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> Any:
    """Save the model into the active run's artifacts (and register it); returns a ModelInfo.

    Example:
        >>> info = log_model(keras_model, name="model", input_example=x[:4])  # doctest: +SKIP
    """
    flavor = KERAS_FLAVOR_NAME if _is_keras_model(model) else FLAVOR_NAME
    return log_model_via_tracking(flavor, functools.partial(save_model, model),
                                  name=name, artifact_path=artifact_path,
                                  registered_model_name=registered_model_name, **kwargs)


# ------------------------------------------------------------------------------------------------
# loading


def _custom_objects(data: Path, allow_pickle: bool | None) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for name in CUSTOM_OBJECT_FILES:
        file = data / name
        if not file.is_file():
            continue

        def load(file: Path = file) -> Any:
            import pickle

            with open(file, "rb") as f:
                return pickle.load(f)

        loaded = unsafe_load(load, what=f"Keras custom objects {name} (cloudpickle)", allow_pickle=allow_pickle)
        if isinstance(loaded, dict):
            objects.update(loaded)
    return objects


def _saved_model(path: Path, allow_pickle: bool | None, **kwargs: Any) -> Any:
    """``tf.saved_model.load`` behind the gate: a SavedModel's graph runs ops at load (restoring resources,
    table initializers), and those ops can read and write files, so it is code the artifact chose."""
    tf = _tf()
    return unsafe_load(lambda: tf.saved_model.load(str(path), **kwargs),
                       what=f"the TensorFlow SavedModel {path.name}/ (its graph ops run at load and can read "
                            "or write files)", allow_pickle=allow_pickle)


def _load_keras_file(file: Path, custom_objects: dict[str, Any], allow_pickle: bool | None) -> Any:
    from tureen.flavors._scan import keras_file_risks

    # our own reading of the config (zip limits first): code in it passes the gate whatever Keras'
    # safe_mode (a process-wide switch other code can turn off) would decide
    risks = keras_file_risks(file)
    keras = _keras()
    if risks:
        return unsafe_load(lambda: keras.saving.load_model(str(file), custom_objects=custom_objects or None,
                                                           safe_mode=False),
                           what=f"Keras model {file.name} ({'; '.join(risks)})", allow_pickle=allow_pickle)
    try:
        return keras.saving.load_model(str(file), custom_objects=custom_objects or None, safe_mode=True)
    except ValueError as exc:
        if "safe_mode" not in str(exc) and "unsafe" not in str(exc).lower():
            raise ModelFormatError(f"The Keras model {file.name} cannot be loaded: {exc}") from exc
    # the config holds Python bytecode (a Lambda layer): running it is the caller's decision
    return unsafe_load(lambda: keras.saving.load_model(str(file), custom_objects=custom_objects or None,
                                                       safe_mode=False),
                       what=f"Keras model {file.name} with Python bytecode (Lambda layers)",
                       allow_pickle=allow_pickle)


def _load_keras_flavor(root: Path, conf: dict[str, Any], allow_pickle: bool | None) -> Any:
    keras = _keras()
    warn_version_mismatch("keras", conf.get("keras_version"), keras.__version__)
    target = resolve_data_file(root, conf.get("data") or DATA_DIR, "keras model")
    if conf.get("save_exported_model"):
        export_dir = target / "model" if target.is_dir() else target
        return _saved_model(export_dir, allow_pickle)
    file = target / KERAS_FILE if target.is_dir() else target
    if not file.exists():
        raise ModelFormatError(f"The Keras model file {file.name} is missing")
    return _load_keras_file(file, {}, allow_pickle)


def _model_type(meta: Any) -> str:
    conf = meta.flavors.get(FLAVOR_NAME) or {}
    if conf.get("model_type"):
        return conf["model_type"]
    return "keras" if KERAS_FLAVOR_NAME in meta.flavors else "tf1-estimator"


def _load_tensorflow_flavor(root: Path, meta: Any, allow_pickle: bool | None) -> Any:
    conf = meta.flavors.get(FLAVOR_NAME) or meta.flavors.get(KERAS_FLAVOR_NAME) or {}
    kind = _model_type(meta)
    tf = _tf()
    if kind == "keras":
        # MLflow's tensorflow flavor stores tf.__version__ under keras_version
        warn_version_mismatch("tensorflow", conf.get("keras_version"), tf.__version__)
        data = resolve_data_file(root, conf.get("data") or DATA_DIR, "keras model")
        custom = _custom_objects(data, allow_pickle) if data.is_dir() else {}
        base = data / "model" if data.is_dir() else data
        for candidate in (base.with_name(base.name + ".keras"), base.with_name(base.name + ".h5"), base):
            if candidate.is_file():
                return _load_keras_file(candidate, custom, allow_pickle)
        if base.is_dir():  # a TF < 2.16 SavedModel directory
            return _saved_model(base, allow_pickle)
        raise ModelFormatError(f"No Keras model file under {data.name}/ of {str(root)!r}")
    if kind == "tf2-module":
        model_dir = resolve_data_file(root, conf.get("saved_model_dir") or TF2_DIR, "SavedModel")
        return _saved_model(model_dir, allow_pickle)
    if kind == "tf1-estimator":
        model_dir = resolve_data_file(root, conf.get("saved_model_dir"), "SavedModel")
        loaded = _saved_model(model_dir, allow_pickle, tags=conf.get("meta_graph_tags"))
        key = conf.get("signature_def_key") or "serving_default"
        if key not in loaded.signatures:
            raise ModelFormatError(f"The SavedModel has no signature {key!r}; it has {list(loaded.signatures)}")
        return loaded.signatures[key]
    raise ModelFormatError(f"Unknown tensorflow model_type {kind!r} in MLmodel")


def _load_meta(root: Path, allow_pickle: bool | None) -> Any:
    from tureen.models.mlmodel import Model

    meta = Model.load(root)
    if KERAS_FLAVOR_NAME in meta.flavors and FLAVOR_NAME not in meta.flavors:
        return meta, _load_keras_flavor(root, meta.flavors[KERAS_FLAVOR_NAME], allow_pickle)
    if FLAVOR_NAME in meta.flavors or KERAS_FLAVOR_NAME in meta.flavors:
        return meta, _load_tensorflow_flavor(root, meta, allow_pickle)
    raise ModelFormatError(f"The model has no tensorflow or keras flavor; it has {', '.join(sorted(meta.flavors))}")


def load_model(model_uri: str | os.PathLike[str], *, allow_pickle: bool | None = None, verify: bool = True) -> Any:
    """Load the native model: a ``keras.Model``, or the loaded SavedModel object for a ``tf.Module``.

    Example:
        >>> model = load_model("keras_model")  # doctest: +SKIP
    """
    from tureen.flavors._gate import model_code
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    root = resolve_model_uri(model_uri)
    meta = Model.load(root)
    if verify:
        verify_model_dir(root, meta)
    conf = meta.flavors.get(KERAS_FLAVOR_NAME) or meta.flavors.get(FLAVOR_NAME) or {}
    with model_code(root, conf.get("code"), allow_pickle=allow_pickle):
        return _load_meta(root, allow_pickle)[1]


def needs_pickle(root: Path, conf: dict[str, Any]) -> bool:
    """Whether loading this model passes the unsafe gate: custom-object pickles, SavedModels (graph ops
    run at load), Keras configs carrying code (Lambda bytecode and the like)."""
    from tureen.exceptions import TureenError
    from tureen.flavors._scan import keras_file_risks

    if conf.get("save_exported_model") or conf.get("saved_model_dir") or conf.get("model_type") in (
            "tf2-module", "tf1-estimator"):
        return True
    data = Path(root) / (conf.get("data") or DATA_DIR)
    if any((data / name).is_file() for name in CUSTOM_OBJECT_FILES):
        return True
    for candidate in (data, data / KERAS_FILE, data / "model.keras", data / "model.h5"):
        if candidate.is_file():
            try:
                return bool(keras_file_risks(candidate))
            except TureenError:
                return True
    return True


# ------------------------------------------------------------------------------------------------
# pyfunc


def _input_error(exc: Exception) -> SchemaEnforcementError:
    text = " ".join(str(exc).split())
    if len(text) > 400:
        text = text[:400] + "..."
    return SchemaEnforcementError(f"The input does not fit the TensorFlow model: {text}", [str(exc)])


def _numpy(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numpy(v) for v in value]
    if hasattr(value, "numpy"):
        return value.numpy()
    return np.asarray(value)


class _KerasPyfunc:
    """pyfunc implementation for Keras models (and exported Keras SavedModels)."""

    def __init__(self, model: Any, exported: bool = False) -> None:
        self.keras_model = model
        self.exported = exported

    def get_raw_model(self) -> Any:
        return self.keras_model

    def _call(self, x: Any) -> Any:
        import numpy as np

        if self.exported:
            return _numpy(self.keras_model.serve(x))
        rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
        if rows > DIRECT_CALL_ROWS:
            return _numpy(self.keras_model.predict(x, batch_size=1024, verbose=0))
        if isinstance(x, np.ndarray) and x.dtype == np.float64:
            x = x.astype(np.float32)
        return _numpy(self.keras_model(x, training=False))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np

        tf = _tf()
        errors = (ValueError, TypeError, KeyError, tf.errors.InvalidArgumentError)
        if type(data).__name__ == "DataFrame":
            import pandas as pd

            try:
                values = data.to_numpy(dtype=np.float32)
                return pd.DataFrame(self._call(values), index=data.index)
            except errors as exc:
                raise _input_error(exc) from None
        if isinstance(data, (list, tuple)):
            data = np.asarray(data)
        if not isinstance(data, (np.ndarray, dict)):
            raise SchemaEnforcementError(f"The Keras model takes a DataFrame, an array or a dict of arrays; got "
                                         f"{type(data).__name__}", [f"unsupported input {type(data).__name__}"])
        try:
            return self._call(data)
        except errors as exc:
            raise _input_error(exc) from None


class _ModulePyfunc:
    """pyfunc implementation for tf.Module SavedModels (and tf1 signature functions)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._dtypes = self._input_dtypes(model)

    @staticmethod
    def _input_dtypes(model: Any) -> list[Any]:
        call = getattr(model, "__call__", None)
        try:
            concrete = call.concrete_functions[0] if hasattr(call, "concrete_functions") else None
            if concrete is None and hasattr(call, "get_concrete_function"):
                concrete = call.get_concrete_function()
            args = concrete.structured_input_signature[0] if concrete is not None else ()
            return [getattr(a, "dtype", None) for a in args]
        except Exception:  # noqa: BLE001 - a module without traced signatures: keep the input dtypes
            return []

    def get_raw_model(self) -> Any:
        return self.model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np

        tf = _tf()
        index = None
        if type(data).__name__ == "DataFrame":
            index = data.index
            data = data.to_numpy()
        try:
            if isinstance(data, dict):
                result = self.model(**{k: tf.convert_to_tensor(v) for k, v in data.items()})
            else:
                x = tf.convert_to_tensor(np.asarray(data))
                want = self._dtypes[0] if self._dtypes else None
                if want is not None and x.dtype != want and x.dtype.is_floating and want.is_floating:
                    x = tf.cast(x, want)
                result = self.model(x)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as exc:
            raise _input_error(exc) from None
        out = _numpy(result)
        if index is not None and isinstance(out, np.ndarray) and out.ndim <= 2:
            import pandas as pd

            return pd.DataFrame(out, index=index)
        return out


def _load_pyfunc(path: str, model_config: Any = None, allow_pickle: bool | None = None) -> Any:
    p = Path(path)
    root = p if (p / "MLmodel").exists() else p.parent
    meta, model = _load_meta(root, allow_pickle)
    if KERAS_FLAVOR_NAME in meta.flavors and FLAVOR_NAME not in meta.flavors:
        return _KerasPyfunc(model, exported=bool(meta.flavors[KERAS_FLAVOR_NAME].get("save_exported_model")))
    if _model_type(meta) == "keras" and hasattr(model, "predict"):
        return _KerasPyfunc(model)
    return _ModulePyfunc(model)



def autolog(**kwargs: Any) -> None:
    """Turn on autologging for Keras 3 Model.fit (arguments: see :mod:`tureen.autolog._keras`).

    Example:
        >>> autolog(log_input_examples=True)  # doctest: +SKIP
    """
    from tureen.autolog._keras import autolog as _autolog

    _autolog(**kwargs)
