"""The Keras 3 flavor (MLflow 3's ``keras`` name): ``keras.Model`` as a ``.keras`` file, no pickle.

``data/model.keras`` is the Keras v3 zip of JSON config + weights, and ``loader_module: mlflow.keras``, so
MLflow 3.x loads these models and tureen loads MLflow's (the ``.keras`` file, or the SavedModel exported with
``save_exported_model=True``). Loading uses Keras' ``safe_mode``; a model whose config carries Python bytecode
(``Lambda`` layers) and MLflow's ``custom_objects.cloudpickle`` files pass the unsafe gate with the caller's
``allow_pickle``.

The TensorFlow flavor (:mod:`tureen.flavors.tensorflow`) shares this module's loading and pyfunc code for
the Keras models MLflow's ``tensorflow`` flavor writes, and hands Keras models given to its ``save_model`` here.

pyfunc ``predict`` accepts DataFrames, arrays and dicts of arrays (multi-input models) and returns what
MLflow returns: a DataFrame (same index) for DataFrame input, numpy arrays otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, unsafe_load, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "keras"
DATA_DIR = "data"
KERAS_FILE = "model.keras"
KERAS_MODULE_FILE = "keras_module.txt"
CUSTOM_OBJECT_FILES = ("custom_objects.cloudpickle", "global_custom_objects.cloudpickle")
DIRECT_CALL_ROWS = 4096  # below this, call the model directly (much faster than Model.predict)


def _installed(*dists: str) -> str:
    from tureen.env import _version, pin

    for d in dists:
        if _version(d):
            return pin(d)
    return dists[0]


def _tf() -> Any:
    from tureen._optional import import_optional

    return import_optional("tensorflow", "the tensorflow flavor")


def _keras() -> Any:
    from tureen._optional import import_optional

    return import_optional("keras", "the keras flavor")


def _is_keras_model(obj: Any) -> bool:
    # decide by class names first so that a non-Keras object never imports Keras
    if not any(c.__module__.split(".")[0] in ("keras", "tf_keras") for c in type(obj).__mro__):
        return False
    return isinstance(obj, _keras().Model)


def _check_signature(signature: Any) -> None:
    inputs = signature.inputs
    if inputs is None or not inputs.is_tensor_spec():
        return
    for spec in inputs.inputs:
        if not spec.shape or spec.shape[0] != -1:
            raise InvalidParameterError(f"Every tensor input of a TensorFlow model signature needs a variable "
                                        f"first (batch) dimension -1; got shape {list(spec.shape)}")


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


class _KerasPyfunc(Predictor):
    """pyfunc implementation for Keras models (and exported Keras SavedModels)."""

    def __init__(self, model: Any, exported: bool = False) -> None:
        super().__init__(model)
        self.keras_model = model
        self.exported = exported

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




def get_default_pip_requirements(backend: str | None = None) -> list[str]:
    """``keras==<installed>`` plus the backend's framework (``tensorflow-cpu``, ``torch`` or ``jax``).

    Example:
        >>> get_default_pip_requirements("tensorflow")  # doctest: +SKIP
        ['keras==3.15.1', 'tensorflow-cpu==2.21.0']
    """
    reqs = [_installed("keras")]
    backend = backend or _keras().backend.backend()
    if backend == "tensorflow":
        reqs.append(_installed("tensorflow", "tensorflow-cpu"))
    elif backend == "torch":
        reqs.append(_installed("torch"))
    elif backend == "jax":
        reqs.append(_installed("jax"))
    return reqs


class KerasFlavor(Flavor):
    """Keras 3 models as ``.keras`` files; MLflow's ``keras`` section and ``loader_module: mlflow.keras``."""

    name = FLAVOR_NAME
    loader_module = "mlflow.keras"
    packages = {"keras": "keras", "tf_keras": "tf-keras"}
    extra = "tensorflow"
    #: TensorFlow's runtime deadlocks in children forked after a model was loaded: servers load per worker
    fork_safe = False
    autolog_module = "tureen.autolog._keras"

    def write(self, model: Any, root: Path, *, save_exported_model: bool = False,
              save_model_kwargs: dict[str, Any] | None = None, signature: Any = None) -> Written:
        """Write a Keras 3 model as ``data/model.keras``, or exported as a SavedModel in ``data/model/``.

        Args:
            save_exported_model: write MLflow's exported form: a SavedModel with a ``serve`` endpoint taking
                the signature's input tensors (needs ``signature`` and TensorFlow; loading it passes the
                unsafe gate, as a SavedModel's graph runs ops at load).
            save_model_kwargs: keyword arguments for ``keras.Model.save`` (the ``.keras`` file).

        Example:
            >>> save_model(keras_model, "keras_model", input_example=x[:4])  # doctest: +SKIP
        """
        if isinstance(model, type):
            raise UnsupportedModelError(f"save_model needs a model instance, got the class {model.__name__}")
        if not _is_keras_model(model):
            raise UnsupportedModelError(f"The keras flavor saves Keras 3 models (keras.Model); got "
                                        f"{type(model).__module__}.{type(model).__qualname__}." + suggest_flavor(model))
        keras = _keras()
        data = root / DATA_DIR
        data.mkdir()
        (data / KERAS_MODULE_FILE).write_text("keras", encoding="utf-8")
        if save_model_kwargs is not None and not isinstance(save_model_kwargs, dict):
            raise InvalidParameterError(f"save_model_kwargs must be a dict, got {save_model_kwargs!r}")
        if save_exported_model:
            _export(model, data / "model", signature)
        else:
            model.save(str(data / KERAS_FILE), **(save_model_kwargs or {}))
        backend = keras.backend.backend()
        return Written(conf={"data": DATA_DIR, "keras_version": keras.__version__, "keras_backend": backend,
                             "save_exported_model": bool(save_exported_model)},
                       pyfunc={}, predict=_KerasPyfunc(model).predict,
                       requirements=get_default_pip_requirements(backend))

    def check_signature(self, signature: Any) -> None:
        _check_signature(signature)

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        return _load_keras_flavor(root, conf, allow_pickle)

    def predictor(self, raw: Any, *, conf: dict[str, Any], **context: Any) -> Predictor:
        return _KerasPyfunc(raw, exported=bool(conf.get("save_exported_model")))

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """Custom-object pickles, exported SavedModels (graph ops run at load), configs carrying code."""
        return keras_needs_gate(root, conf)


def _export(model: Any, path: Path, signature: Any) -> None:
    """MLflow's exported Keras model: a SavedModel whose ``serve`` endpoint is ``model.call`` on tensors of the
    signature's input specs (a -1 dimension is left open)."""
    inputs = getattr(signature, "inputs", None)
    if inputs is None or not inputs.is_tensor_spec():
        raise InvalidParameterError("save_exported_model=True needs a signature with tensor inputs (it fixes the "
                                    "exported endpoint's input shapes)")
    tf = _tf()
    keras = _keras()
    specs = [tf.TensorSpec(shape=[None if d == -1 else d for d in spec.shape], dtype=spec.type.name)
             for spec in inputs.inputs]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=model.call, input_signature=specs)
    archive.write_out(str(path), verbose=False)


def keras_needs_gate(root: Path, conf: dict[str, Any]) -> bool:
    """Whether loading a Keras / TensorFlow model passes the unsafe gate (for ``tureen models inspect``)."""
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


FLAVOR = KerasFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog
