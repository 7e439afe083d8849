"""The TensorFlow flavor: ``tf.Module`` objects as SavedModels; Keras 3 models go to :mod:`tureen.flavors.keras`.

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

import os
from pathlib import Path
from typing import Any

from tureen.exceptions import ModelFormatError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written
from tureen.flavors.keras import (DATA_DIR, DIRECT_CALL_ROWS, KERAS_FILE, KERAS_MODULE_FILE,  # noqa: F401
                                  CUSTOM_OBJECT_FILES, _check_signature, _custom_objects, _input_error, _installed,
                                  _is_keras_model, _KerasPyfunc, _load_keras_file, _load_keras_flavor, _numpy,
                                  _saved_model)
from tureen.flavors.keras import FLAVOR as KERAS_FLAVOR
from tureen.flavors.keras import FLAVOR_NAME as KERAS_FLAVOR_NAME

__all__ = ["FLAVOR", "KERAS_FLAVOR", "FLAVOR_NAME", "KERAS_FLAVOR_NAME", "save_model", "log_model", "load_model",
           "get_default_pip_requirements", "load_checkpoint"]

FLAVOR_NAME = "tensorflow"
TF2_DIR = "tf2model"


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


def _is_tf_module(obj: Any) -> bool:
    if not any(c.__module__.split(".")[0] == "tensorflow" for c in type(obj).__mro__):
        return False
    return isinstance(obj, _tf().Module)


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


class _ModulePyfunc(Predictor):
    """pyfunc implementation for tf.Module SavedModels (and tf1 signature functions)."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
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


def _load_any(root: Path, meta: Any, allow_pickle: bool | None) -> Any:
    if KERAS_FLAVOR_NAME in meta.flavors and FLAVOR_NAME not in meta.flavors:
        return _load_keras_flavor(root, meta.flavors[KERAS_FLAVOR_NAME], allow_pickle)
    if FLAVOR_NAME in meta.flavors or KERAS_FLAVOR_NAME in meta.flavors:
        return _load_tensorflow_flavor(root, meta, allow_pickle)
    raise ModelFormatError(f"The model has no tensorflow or keras flavor; it has {', '.join(sorted(meta.flavors))}")


class TensorFlowFlavor(Flavor):
    """``tf.Module`` SavedModels (and MLflow's tensorflow-flavor Keras models); ``loader_module: mlflow.tensorflow``."""

    name = FLAVOR_NAME
    loader_module = "mlflow.tensorflow"
    packages = {"tensorflow": "tensorflow-cpu"}
    extra = "tensorflow"
    #: TensorFlow's runtime deadlocks in children forked after a SavedModel was loaded: servers load per worker
    fork_safe = False
    autolog_module = "tureen.autolog._tensorflow"

    def save_model(self, model: Any, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Save a ``tf.Module`` (SavedModel in ``tf2model/``) or a Keras 3 model (the ``keras`` flavor).

        Example:
            >>> save_model(keras_model, "keras_model", input_example=x[:4])  # doctest: +SKIP
        """
        if _is_keras_model(model):
            return KERAS_FLAVOR.save_model(model, path, **_keras_options(kwargs))
        return super().save_model(model, path, **_module_options(kwargs))

    def log_model(self, model: Any, name: str | None = None, **kwargs: Any) -> Any:
        if _is_keras_model(model):
            return KERAS_FLAVOR.log_model(model, name, **_keras_options(kwargs))
        return super().log_model(model, name, **_module_options(kwargs))

    def write(self, model: Any, root: Path, *, saved_model_kwargs: dict[str, Any] | None = None) -> Written:
        """Write a ``tf.Module`` with a traced ``__call__`` as a SavedModel (``saved_model_kwargs``: keyword
        arguments for ``tf.saved_model.save``)."""
        if isinstance(model, type):
            raise UnsupportedModelError(f"save_model needs a model instance, got the class {model.__name__}")
        if not _is_tf_module(model):
            raise UnsupportedModelError(f"The tensorflow flavor saves Keras 3 models (keras.Model) and tf.Module "
                                        f"objects; got {type(model).__module__}.{type(model).__qualname__}."
                                        + suggest_flavor(model))
        tf = _tf()
        tf.saved_model.save(model, str(root / TF2_DIR), **(saved_model_kwargs or {}))
        return Written(conf={"saved_model_dir": TF2_DIR, "model_type": "tf2-module", "code": None}, pyfunc={},
                       predict=_ModulePyfunc(model).predict,
                       requirements=get_default_pip_requirements(keras_model=False))

    def check_signature(self, signature: Any) -> None:
        _check_signature(signature)

    def load_model(self, model_uri: Any, *, allow_pickle: bool | None = None, verify: bool = True,
                   verified_only: bool | None = None, zip_limits: Any = None, **options: Any) -> Any:
        """The native model: a ``keras.Model``, or the loaded SavedModel object for a ``tf.Module``."""
        from tureen.flavors._flavor import checked_model_dir
        from tureen.flavors._gate import loading, pickle_allowed

        root, meta = checked_model_dir(model_uri, verify=verify, verified_only=verified_only)
        conf = meta.flavors.get(KERAS_FLAVOR_NAME) or meta.flavors.get(FLAVOR_NAME) or {}
        allow = pickle_allowed(allow_pickle)
        with loading(root, conf.get("code"), allow_pickle=allow, zip_limits=zip_limits):
            return _load_any(root, meta, allow)

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        from tureen.models.mlmodel import Model

        return _load_tensorflow_flavor(root, Model.load(root), allow_pickle)

    def load_pyfunc(self, root: Path, *, allow_pickle: bool | None = None,
                    model_config: dict[str, Any] | None = None, meta: Any = None) -> Predictor:
        from tureen.models.mlmodel import Model

        meta = meta if meta is not None else Model.load(root)
        model = _load_any(Path(root), meta, allow_pickle)
        if KERAS_FLAVOR_NAME in meta.flavors and FLAVOR_NAME not in meta.flavors:
            return _KerasPyfunc(model, exported=bool(meta.flavors[KERAS_FLAVOR_NAME].get("save_exported_model")))
        if _model_type(meta) == "keras" and hasattr(model, "predict"):
            return _KerasPyfunc(model)
        return _ModulePyfunc(model)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """SavedModels (graph ops run at load), custom-object pickles, Keras configs carrying code."""
        from tureen.flavors.keras import keras_needs_gate

        return keras_needs_gate(root, conf)


def _keras_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """MLflow's ``mlflow.tensorflow`` save options for a Keras model, as the keras flavor's: ``keras_model_kwargs``
    go to ``keras.Model.save``; ``saved_model_kwargs`` (for ``tf.Module`` objects) do not apply."""
    options = {k: v for k, v in kwargs.items() if k not in ("keras_model_kwargs", "saved_model_kwargs")}
    if kwargs.get("keras_model_kwargs") is not None:
        options["save_model_kwargs"] = kwargs["keras_model_kwargs"]
    return options


def _module_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The save options for a ``tf.Module``: ``keras_model_kwargs`` do not apply."""
    return {k: v for k, v in kwargs.items() if k != "keras_model_kwargs"}


FLAVOR = TensorFlowFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog


# ------------------------------------------------------------------------------------------------
# checkpoints logged while a Keras model trains (autolog(checkpoint=True), MlflowModelCheckpointCallback)


def load_checkpoint(model: Any = None, run_id: str | None = None, epoch: int | None = None,
                    global_step: int | None = None, *, allow_pickle: bool | None = None) -> Any:
    """A Keras model from a checkpoint its training logged.

    The latest checkpoint of the run (the one its ``mlflow.latest_checkpoint_artifact`` tag names), or the
    one logged at ``epoch`` (``checkpoint_save_freq="epoch"``) or ``global_step`` (a number of batches) with
    ``checkpoint_save_best_only=False``. MLflow's autologging and tureen's write the same files, so either
    reads the other's. A weights-only checkpoint (``*.weights.h5``) is loaded into ``model`` (its weights
    are replaced, and it is returned); a whole-model checkpoint is loaded as a new model (``model`` unused).

    Weights files hold arrays only. A whole-model ``.h5`` holds the model's config, and a config with code in
    it (a ``Lambda`` layer's Python bytecode, a layer that loads a SavedModel) passes the unsafe gate: loaded
    only when ``allow_pickle`` (else ``TUREEN_ALLOW_PICKLE``) allows it, whatever the file says.

    Args:
        model: the Keras model to load a weights-only checkpoint into (needed only then).
        run_id: the run that logged it; default the active run, else the last run this process started.
        epoch: the epoch of the checkpoint (not with ``global_step``).
        global_step: the training step of the checkpoint (not with ``epoch``).
        allow_pickle: allow a model config that runs code (tureen's; ``None``: ``TUREEN_ALLOW_PICKLE``,
            default allowed).

    Returns:
        The Keras model.

    Raises:
        InvalidParameterError: both ``epoch`` and ``global_step``, a negative or non-integer one, no run; a
            weights-only checkpoint without ``model``.
        ResourceNotFoundError: the run logged no checkpoint, or none at that epoch or step.
        ModelFormatError: the run's checkpoint tag names another file; the file is not a Keras ``.h5`` file,
            or its weights do not fit ``model``.
        UnsafeDeserializationError: the model's config runs code and the gate is closed.

    Example:
        >>> tureen.tensorflow.autolog(checkpoint_save_best_only=False)  # doctest: +SKIP
        >>> model.fit(X, y, epochs=3)  # doctest: +SKIP
        >>> first = tureen.tensorflow.load_checkpoint(epoch=0)  # doctest: +SKIP
    """
    import tempfile

    from tureen.flavors._checkpoints import checkpoint_file, is_weights_only
    from tureen.exceptions import InvalidParameterError, TureenError
    from tureen.flavors.keras import _is_keras_model, _keras, _load_keras_file

    _keras()  # MissingDependencyError before anything is downloaded
    with tempfile.TemporaryDirectory(prefix="tureen-checkpoint-") as tmp:
        path = checkpoint_file(run_id, epoch, global_step, ".h5", tmp)
        if not _is_hdf5(path):
            raise ModelFormatError(f"The checkpoint {Path(path).name} is not an HDF5 file")
        if is_weights_only(path, ".h5"):
            if model is None:
                raise InvalidParameterError(f"The checkpoint {Path(path).name} holds weights only: give "
                                            "load_checkpoint the model to load them into (model=...)")
            if not _is_keras_model(model):
                raise InvalidParameterError(f"model must be a Keras model to load weights into, got "
                                            f"{type(model).__name__}")
            try:
                model.load_weights(path)
            except (ValueError, KeyError, OSError) as exc:
                raise ModelFormatError(f"The weights of {Path(path).name} do not fit the model: {exc}") from exc
            return model
        try:
            return _load_keras_file(Path(path), {}, allow_pickle)
        except TureenError:
            raise
        except (ValueError, KeyError, OSError, TypeError) as exc:
            raise ModelFormatError(f"The Keras checkpoint {Path(path).name} cannot be loaded: {exc}") from exc


def _is_hdf5(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


def __getattr__(name: str) -> Any:
    # the Keras callback is built on first use, so that importing this module imports no Keras
    if name == "MlflowModelCheckpointCallback":
        import importlib

        # by the autologger's import string, as autolog() is reached: this module never imports tureen.autolog
        return importlib.import_module(FLAVOR.autolog_module).checkpoint_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
