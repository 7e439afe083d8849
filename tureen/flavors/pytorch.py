"""The PyTorch flavor: ``torch.nn.Module`` saved as a ``torch.export`` program (``.pt2``) by default.

``serialization_format``:

* ``pt2`` (default whenever the model exports with its input example): ``data/model.pt2`` written by
  ``torch.export.save``; a traced graph plus raw tensor weights. It loads without unpickling anything: before
  loading, every record of the archive is checked to be JSON, raw tensor bytes, or loadable with
  ``torch.load(weights_only=True)``; an archive that would need pickle passes the unsafe gate instead.
* ``state_dict``: ``data/state_dict.pth`` (weights only, read with ``weights_only=True``) plus ``model_class``
  and ``model_init_kwargs`` in MLmodel; the class is imported from the environment or the model's code
  paths and rebuilt. Classes shipped inside the model's ``code/`` directory are code from the artifact, so
  importing them passes the unsafe gate. MLflow cannot load this format.
* ``pickle``: ``data/model.pth``, the whole module pickled with cloudpickle (what MLflow calls pickle);
  loads only through the unsafe gate.

When the model does not export (no example, or ``torch.export`` fails), it is saved as ``pickle`` with one
warning that says why. The MLmodel sections are MLflow's (``loader_module: mlflow.pytorch``), so MLflow 3.x
loads ``pt2`` and ``pickle`` models without tureen, and tureen loads MLflow's PyTorch models without MLflow.

pyfunc ``predict`` runs in eval mode under ``torch.no_grad()``; DataFrames and arrays become tensors
(floating inputs take the model's floating dtype, float32 by default), large inputs are predicted in
batches (``model_config={"batch_size": N}``, default 4096 rows), and outputs come back as numpy arrays, or a
DataFrame (same index) for DataFrame input.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from tureen.exceptions import (InvalidParameterError, ModelFormatError, SchemaEnforcementError,
                               UnsupportedModelError)
from tureen.flavors._base import resolve_data_file, suggest_flavor, unsafe_load, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "SERIALIZATION_FORMATS", "save_model", "log_model", "load_model",
           "get_default_pip_requirements", "load_checkpoint"]

FLAVOR_NAME = "pytorch"
SERIALIZATION_FORMATS = ("pt2", "state_dict", "pickle")
DATA_DIR = "data"
PT2_FILE = "model.pt2"
PICKLE_FILE = "model.pth"
STATE_DICT_FILE = "state_dict.pth"
PICKLE_MODULE_INFO = "pickle_module_info.txt"
#: what MLflow's loader imports to unpickle ``model.pth``; it is cloudpickle, which is what we write with
MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"
DEFAULT_BATCH_SIZE = 4096
_TEXT_RECORDS = {"version", "archive_format", "archive_version", "byteorder", "serialization_id"}


def get_default_pip_requirements(serialization_format: str = "pt2") -> list[str]:
    """``torch==<installed>`` (plus cloudpickle for the pickle format).

    Example:
        >>> get_default_pip_requirements()[0].startswith("torch")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    reqs = [pin("torch")]
    if serialization_format == "pickle":
        reqs.append(pin("cloudpickle"))
    return reqs


def _torch() -> Any:
    from tureen._optional import import_optional

    return import_optional("torch", "the pytorch flavor")


# ------------------------------------------------------------------------------------------------
# saving


def _example_tensors(torch: Any, example: Any) -> tuple[Any, ...] | None:
    """The example as a tuple of tensors for torch.export (DataFrames become float32), or None."""
    import numpy as np

    def one(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x
        if type(x).__name__ == "DataFrame":
            return torch.from_numpy(np.array(x.to_numpy(dtype=np.float32), copy=True))
        if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
            return torch.from_numpy(np.array(x, copy=True))
        return None

    items = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    tensors = tuple(one(x) for x in items)
    return None if any(t is None for t in tensors) else tensors


def _floating_dtype(torch: Any, model: Any) -> Any:
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def _export(torch: Any, model: Any, example: tuple[Any, ...], file: Path) -> None:
    """torch.export with a dynamic batch dimension; raises when the model does not export faithfully."""
    from torch.export import Dim

    dtype = _floating_dtype(torch, model)
    example = tuple(t.to(dtype) if t.is_floating_point() else t for t in example)
    # size-1 dims are specialised by torch.export: trace a 2-row batch so the batch stays dynamic
    traced = tuple(torch.cat([t, t]) if t.dim() and t.shape[0] == 1 else t for t in example)
    dynamic = tuple({0: Dim.AUTO} if t.dim() else None for t in traced)
    import logging

    quiet = [logging.getLogger(n) for n in ("torch._dynamo", "torch.fx", "torch._export", "torch.export",
                                            "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:  # a failed export is reported once, by our warning, not by pages of graph dumps
        lg.setLevel(logging.CRITICAL)
    try:
        program, module, want, got = _trace(torch, model, traced, dynamic)
    finally:
        for lg, level in zip(quiet, levels):
            lg.setLevel(level)
    if isinstance(want, torch.Tensor) and not torch.allclose(want, got, rtol=1e-4, atol=1e-5, equal_nan=True):
        raise RuntimeError("the exported program does not reproduce the model's output on the example")
    torch.export.save(program, str(file))


def _trace(torch: Any, model: Any, traced: tuple[Any, ...], dynamic: tuple[Any, ...]) -> tuple[Any, ...]:
    with torch.no_grad():
        program = torch.export.export(model, traced, dynamic_shapes=dynamic)
        module = program.module()
        want, got = model(*traced), module(*traced)
    return program, module, want, got


class _EvalMode:
    """Run the user's model in eval mode and put its training flag back afterwards."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __enter__(self) -> Any:
        self.training = self.model.training
        self.model.eval()
        return self.model

    def __exit__(self, *exc: Any) -> None:
        self.model.train(self.training)


def _importable_class(model: Any) -> str:
    cls = type(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise InvalidParameterError(
            f"serialization_format='state_dict' rebuilds the model from its class at load, but "
            f"{cls.__qualname__} is defined in {cls.__module__!r}: move it into a module (and pass it in "
            "code_paths) or use serialization_format='pickle'")
    return f"{cls.__module__}.{cls.__qualname__}"


class PyTorchFlavor(Flavor):
    """``torch.nn.Module`` as a torch.export program by default; MLflow's ``pytorch`` section and loader."""

    name = FLAVOR_NAME
    loader_module = "mlflow.pytorch"
    packages = {"torch": "torch", "lightning": "lightning", "pytorch_lightning": "pytorch-lightning"}
    extra = "pytorch"
    autolog_module = "tureen.autolog._lightning"

    def prepare_example(self, input_example: Any) -> Any:
        """Tensors in the example are saved as numpy arrays (the example files hold numpy values)."""
        data, params = input_example, None
        if isinstance(input_example, tuple) and len(input_example) == 2 and isinstance(input_example[1], dict):
            data, params = input_example
        if type(data).__module__.split(".")[0] == "torch" and hasattr(data, "detach"):
            data = data.detach().cpu().numpy()
            return data if params is None else (data, params)
        return input_example

    def write(self, model: Any, root: Path, *, serialization_format: str | None = None,
              model_init_kwargs: dict[str, Any] | None = None, input_example: Any = None) -> Written:
        """Write a ``torch.nn.Module``.

        Args:
            model: the module to save.
            serialization_format: ``None`` (default: ``pt2`` when the model exports with ``input_example``,
                otherwise ``pickle`` with a warning), ``"pt2"`` (fail if it does not export), ``"state_dict"``
                (needs ``model_init_kwargs`` and an importable class) or ``"pickle"``.
            model_init_kwargs: keyword arguments that rebuild the module's class (``state_dict`` format).
            input_example: an ndarray, tensor or DataFrame (a batch of inputs); ``torch.export`` traces it.

        Example:
            >>> net = torch.nn.Linear(3, 1)  # doctest: +SKIP
            >>> save_model(net, "net_model", input_example=np.zeros((4, 3), dtype="float32"))  # doctest: +SKIP
        """
        pytorch_model, example_data = model, input_example
        torch = _torch()
        if isinstance(pytorch_model, type):
            raise UnsupportedModelError(f"save_model needs a module instance, got the class {pytorch_model.__name__}")
        if not isinstance(pytorch_model, torch.nn.Module):
            raise UnsupportedModelError(f"The pytorch flavor saves torch.nn.Module objects; got "
                                        f"{type(pytorch_model).__module__}.{type(pytorch_model).__qualname__}."
                                        + suggest_flavor(pytorch_model))
        if serialization_format is not None and serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidParameterError(f"Unknown serialization_format {serialization_format!r}; choose one of "
                                        f"{', '.join(SERIALIZATION_FORMATS)}")
        is_script = isinstance(pytorch_model, torch.jit.ScriptModule)
        if serialization_format in ("pt2", "state_dict") and is_script:
            raise InvalidParameterError("TorchScript modules can only be saved with serialization_format='pickle'")
        model_class = None
        if serialization_format == "state_dict":
            if model_init_kwargs is None:
                raise InvalidParameterError("serialization_format='state_dict' needs model_init_kwargs={...}: the "
                                            "arguments that rebuild the module before its weights are loaded")
            model_class = _importable_class(pytorch_model)
        elif model_init_kwargs is not None:
            raise InvalidParameterError("model_init_kwargs is only used with serialization_format='state_dict'")

        data = root / DATA_DIR
        data.mkdir()
        fmt = serialization_format
        if fmt in (None, "pt2") and not is_script:
            tensors = _example_tensors(torch, example_data) if example_data is not None else None
            reason = None
            if tensors is None:
                reason = "no input example (an ndarray, tensor or DataFrame) to trace it with"
            else:
                try:
                    with _EvalMode(pytorch_model):
                        _export(torch, pytorch_model, tensors, data / PT2_FILE)
                    fmt = "pt2"
                except Exception as exc:  # noqa: BLE001 - torch.export raises many kinds of errors
                    (data / PT2_FILE).unlink(missing_ok=True)
                    reason = f"torch.export failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
            if fmt != "pt2":
                if serialization_format == "pt2":
                    raise InvalidParameterError(f"The model cannot be saved as pt2: {reason}")
                warnings.warn(f"{type(pytorch_model).__name__} was saved as a full pickle (loading it needs "
                              f"allow_pickle), not as a torch.export program: {reason}. For a pickle-free "
                              "save pass an input example it exports with, or use serialization_format="
                              "'state_dict' with model_init_kwargs.", UserWarning, stacklevel=6)
                fmt = "pickle"
        if fmt is None:
            fmt = "pickle"
        conf: dict[str, Any] = {"model_data": DATA_DIR, "pytorch_version": str(torch.__version__), "code": None}
        if fmt == "pickle":
            import cloudpickle

            (data / PICKLE_MODULE_INFO).write_text(MLFLOW_PICKLE_MODULE, encoding="utf-8")
            if is_script:
                torch.jit.save(pytorch_model, str(data / PICKLE_FILE))
            else:
                torch.save(pytorch_model, str(data / PICKLE_FILE), pickle_module=cloudpickle)
        elif fmt == "state_dict":
            torch.save(pytorch_model.state_dict(), str(data / STATE_DICT_FILE))
            conf.update(serialization_format="state_dict", model_class=model_class,
                        model_init_kwargs=dict(model_init_kwargs or {}))

        def predict(x: Any) -> Any:
            with _EvalMode(pytorch_model):
                return _TorchPyfunc(pytorch_model, "cpu").predict(x)

        pyfunc: dict[str, Any] = {"data": DATA_DIR, "pickle_module_name": MLFLOW_PICKLE_MODULE,
                                  "config": {"device": None}}
        if fmt == "state_dict":  # MLflow's loader reads pt2 and pickle models; the state-dict format is ours
            pyfunc["loader_module"] = "tureen.flavors.pytorch"
        return Written(conf=conf, pyfunc=pyfunc, predict=predict, requirements=get_default_pip_requirements(fmt))

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None, device: Any = None,
             map_location: Any = None) -> Any:
        """The module in eval mode; ``device`` (alias ``map_location``): where to put the weights."""
        return _load_from_dir(root, conf, allow_pickle, device or map_location)

    def load_pyfunc(self, root: Path, *, allow_pickle: bool | None = None,
                    model_config: dict[str, Any] | None = None, meta: Any = None) -> Predictor:
        from tureen.models.mlmodel import Model

        torch = _torch()
        meta = meta if meta is not None else Model.load(root)
        conf = meta.get_flavor(FLAVOR_NAME)
        config = dict(model_config or {})
        device = config.get("device") or _default_device(torch)
        model = _load_from_dir(Path(root), conf, allow_pickle, device if device != "cpu" else None)
        impl = _TorchPyfunc(model, device, int(config.get("batch_size") or DEFAULT_BATCH_SIZE))
        _warm_up(impl, meta.get_input_schema())
        return impl

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        data = resolve_data_file(Path(root), conf.get("model_data") or DATA_DIR, "pytorch model_data")
        if conf.get("serialization_format") == "state_dict":
            # the weights load weights_only; the class is imported through the gate unless already imported
            import sys

            return str(conf.get("model_class") or "").rpartition(".")[0] not in sys.modules
        if (data / PT2_FILE).exists() and not (data / PICKLE_FILE).exists():
            return bool(_pt2_needs_pickle(_torch(), data / PT2_FILE))
        return True


# ------------------------------------------------------------------------------------------------
# loading


def _pt2_needs_pickle(torch: Any, file: Path) -> str | None:
    """Why loading this pt2 archive would unpickle something (None when it is pickle-free)."""
    from tureen.flavors._gate import check_zip

    check_zip(file)  # its members are read below: bound them first
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise ModelFormatError(f"{file.name} is not a torch.export archive (not a zip file)") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        raw: set[str] = set()
        for info in infos:
            name = info.filename
            if not (name.endswith("_config.json") and ("/data/weights/" in f"/{name}"
                                                       or "/data/constants/" in f"/{name}")):
                continue
            try:
                config = json.loads(archive.read(info)).get("config") or {}
            except (ValueError, AttributeError):
                return f"{name} is not valid JSON"
            folder = name.rsplit("/", 1)[0]
            for entry in config.values():
                path_name = str(entry.get("path_name", ""))
                if entry.get("use_pickle") or not path_name.startswith(("weight_", "tensor_")):
                    return f"{folder}/{path_name} is a pickled object"
                raw.add(f"{folder}/{path_name}")
        for info in infos:
            name = info.filename
            base = name.rsplit("/", 1)[-1]
            if name in raw or name.endswith(".json"):
                continue
            content = archive.read(info)
            if base in _TEXT_RECORDS and len(content) <= 64 and b"\n" not in content.rstrip(b"\n"):
                continue
            try:
                torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - anything weights_only refuses needs full pickle
                return f"{name} needs full unpickling"
    return None


def _load_pt2(torch: Any, file: Path, allow_pickle: bool | None) -> Any:
    reason = _pt2_needs_pickle(torch, file)

    def load() -> Any:
        try:
            return torch.export.load(str(file)).module()
        except Exception as exc:  # noqa: BLE001
            raise ModelFormatError(f"The torch.export archive {file.name} cannot be loaded: "
                                   f"{type(exc).__name__}: {exc}") from exc

    if reason:
        return unsafe_load(load, what=f"PyTorch program {file.name} ({reason})", allow_pickle=allow_pickle)
    return load()


def _load_pickle(torch: Any, data: Path, allow_pickle: bool | None, map_location: Any) -> Any:
    file = data / PICKLE_FILE

    def load() -> Any:
        import pickle

        from tureen.flavors._gate import check_zip

        try:
            if zipfile.is_zipfile(file):
                check_zip(file)
                with zipfile.ZipFile(file) as z:
                    if any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist()):
                        return torch.jit.load(str(file), map_location=map_location)
            return torch.load(str(file), map_location=map_location, pickle_module=pickle, weights_only=False)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, RuntimeError) as exc:
            raise ModelFormatError(f"The pickled PyTorch model {file.name} cannot be loaded: "
                                   f"{type(exc).__name__}: {exc}") from exc

    return unsafe_load(load, what=f"PyTorch model {file.name} (a full pickle)", allow_pickle=allow_pickle)


def _load_state_dict(torch: Any, root: Path, conf: dict[str, Any], allow_pickle: bool | None,
                     map_location: Any) -> Any:
    from tureen.flavors._gate import check_zip, import_named_class

    name = conf.get("model_class") or ""
    if not name:
        raise ModelFormatError("MLmodel's pytorch flavor has no model_class for its state dict")
    # the class path comes from the artifact: importing a module not yet loaded (the model's own code/,
    # or any installed module) runs code, so it passes the gate
    cls = import_named_class(name, allow_pickle=allow_pickle, what="PyTorch model_class")
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ModelFormatError(f"model_class {name!r} is not a torch.nn.Module subclass")
    state_file = resolve_data_file(root, f"{conf.get('model_data') or DATA_DIR}/{STATE_DICT_FILE}",
                                   "pytorch state dict")
    if zipfile.is_zipfile(state_file):
        check_zip(state_file)
    try:
        state = torch.load(str(state_file),
                           map_location=map_location or "cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - weights_only refuses anything that is not plain tensors
        raise ModelFormatError(f"The state dict cannot be loaded with weights_only=True: {exc}") from exc
    init_kwargs = conf.get("model_init_kwargs") or {}
    if not isinstance(init_kwargs, dict) or not all(isinstance(k, str) for k in init_kwargs):
        raise ModelFormatError(f"MLmodel's model_init_kwargs must be a mapping of names, got {init_kwargs!r}")
    try:
        model = cls(**init_kwargs)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        text = str(exc).strip()
        raise ModelFormatError(f"The state dict does not fit {name}({init_kwargs}): "
                               f"{text.splitlines()[0] if text else type(exc).__name__}") from exc
    return model


def _load_from_dir(root: Path, conf: dict[str, Any], allow_pickle: bool | None, device: Any = None) -> Any:
    torch = _torch()
    warn_version_mismatch("torch", conf.get("pytorch_version"), str(torch.__version__))
    data = resolve_data_file(root, conf.get("model_data") or DATA_DIR, "pytorch model_data")
    map_location = torch.device(device) if device else None
    if conf.get("serialization_format") == "state_dict":
        model = _load_state_dict(torch, root, conf, allow_pickle, map_location)
    elif data.is_file():  # very old models: model_data names the pickle itself
        model = _load_pickle(torch, data.parent, allow_pickle, map_location) if data.name == PICKLE_FILE \
            else None
        if model is None:
            raise ModelFormatError(f"Unrecognised PyTorch model file {data.name}")
    elif (data / PICKLE_FILE).exists():
        model = _load_pickle(torch, data, allow_pickle, map_location)
    elif (data / PT2_FILE).exists():
        model = _load_pt2(torch, data / PT2_FILE, allow_pickle)
        if device:
            dev = torch.device(device)
            for t in list(model.parameters()) + list(model.buffers()):
                if t.device.type != dev.type:
                    raise InvalidParameterError(f"This torch.export program holds weights on {t.device.type}; "
                                                f"it cannot be moved to {dev.type}. Save the model from "
                                                f"{dev.type} instead.")
        return model
    else:
        raise ModelFormatError(f"The model's {data.name}/ directory holds neither {PT2_FILE} nor {PICKLE_FILE}")
    model.eval()
    if device:
        model.to(torch.device(device))
    return model


# ------------------------------------------------------------------------------------------------
# pyfunc


def _default_device(torch: Any) -> str:
    env = os.environ.get("TUREEN_DEFAULT_PREDICTION_DEVICE")
    if env:
        return env
    return "cuda" if torch.cuda.is_available() else "cpu"


class _TorchPyfunc(Predictor):
    """pyfunc implementation: arrays/DataFrames -> tensors -> the module (eval, gradients off) -> numpy."""

    def __init__(self, model: Any, device: str, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__(model)
        torch = _torch()
        self._torch_mod = torch
        self.pytorch_model = model
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self._dtype = _floating_dtype(torch, model) if hasattr(model, "parameters") else None
        # a plain CPU device needs no .to(device) per call (tensors from numpy are on the CPU already)
        self._on_cpu = torch.device(device).type == "cpu"
        # grad mode is per thread in torch: switching it off and back around the call (rather than entering
        # a no_grad context manager per call) is safe when several threads predict at once, and cheaper
        self._set_grad = getattr(torch._C, "_set_grad_enabled", None) or torch.set_grad_enabled

    def _tensor(self, torch: Any, value: Any) -> Any:
        import numpy as np

        if isinstance(value, torch.Tensor):
            t = value
            if self._dtype is not None and t.dtype != self._dtype and t.is_floating_point():
                t = t.to(self._dtype)
            return t.to(self.device)
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise SchemaEnforcementError(f"The pytorch model takes numeric tensors; got values of dtype "
                                         f"{arr.dtype}", [f"non-numeric input dtype {arr.dtype}"])
        if not (arr.flags.writeable and arr.flags.c_contiguous):
            arr = np.array(arr, copy=True)  # from_numpy shares memory: never with a read-only or strided view
        t = torch.from_numpy(arr)  # no copy
        if self._dtype is not None and t.dtype != self._dtype and t.is_floating_point():
            t = t.to(self._dtype)
        # from_numpy's tensors are on the CPU: moved only for another device (reading t.device costs more
        # than the move's no-op check)
        return t if self._on_cpu else t.to(self.device)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np

        torch = self._torch_mod
        if params and "device" in params:
            raise InvalidParameterError("device is chosen at load time: pyfunc.load_model(uri, "
                                        "model_config={'device': 'cuda'})")
        index = None
        if isinstance(data, np.ndarray):
            inputs = [data]
        elif type(data).__name__ == "DataFrame":
            index = data.index
            try:
                # one float32 array of the frame's values (a fresh copy unless the frame is float32
                # already; _tensor copies only a read-only or strided view)
                inputs = [data.to_numpy(dtype=np.float32)]
            except (ValueError, TypeError) as exc:
                raise SchemaEnforcementError(f"The DataFrame cannot be read as a float32 tensor: {exc}",
                                             [str(exc)]) from None
        elif isinstance(data, dict):
            inputs = list(data.values())
        elif isinstance(data, (tuple, list)) and data and all(hasattr(x, "shape") for x in data):
            inputs = list(data)
        else:
            inputs = [data]
        tensors = [self._tensor(torch, x) for x in inputs]
        n = tensors[0].shape[0] if tensors[0].dim() else 1
        kwargs = params or {}
        size = self.batch_size
        outputs = []
        was_enabled = torch.is_grad_enabled()
        self._set_grad(False)
        try:
            if n <= size:  # one batch: the tensors as they are, no slicing
                outputs.append(self._call(tensors, kwargs))
            else:
                for start in range(0, n, size):
                    outputs.append(self._call([t[start:start + size] if t.dim() else t for t in tensors],
                                              kwargs))
        finally:
            self._set_grad(was_enabled)
        result = _to_numpy(torch, outputs)
        if index is not None and isinstance(result, np.ndarray) and result.ndim <= 2:
            import pandas as pd

            return pd.DataFrame(result, index=index)
        return result

    def _call(self, chunk: list[Any], kwargs: dict[str, Any]) -> Any:
        try:
            return self.pytorch_model(*chunk, **kwargs) if kwargs else self.pytorch_model(*chunk)
        except (RuntimeError, TypeError, ValueError, IndexError, AssertionError) as exc:
            raise SchemaEnforcementError(f"The input does not fit the pytorch model: "
                                         f"{str(exc).strip().splitlines()[0]}", [str(exc)]) from None


def _to_numpy(torch: Any, outputs: list[Any]) -> Any:
    import numpy as np

    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return np.concatenate([_array(o) for o in outputs]) if len(outputs) > 1 else _array(first)
    if isinstance(first, dict):
        return {k: _to_numpy(torch, [o[k] for o in outputs]) for k in first}
    if isinstance(first, (tuple, list)):
        return [_to_numpy(torch, [o[i] for o in outputs]) for i in range(len(first))]
    raise SchemaEnforcementError(f"The pytorch model returned {type(first).__name__}; pyfunc needs tensors "
                                 "(or tuples/dicts of tensors)")


def _array(t: Any) -> Any:
    """A tensor's values as numpy (sharing memory where torch can)."""
    try:  # a CPU tensor outside autograd (what a prediction with gradients off returns): no detach, no move
        return t.numpy()
    except (RuntimeError, TypeError):  # it requires grad, or it lives on another device
        return t.detach().cpu().numpy()


def _warm_up(impl: _TorchPyfunc, schema: Any) -> None:
    """Run the module once on zeros shaped like the signature's input, so that its one-time initialisation
    (kernel selection, lazy modules, exported-graph set-up) happens at load rather than on the first request."""
    if schema is None or not schema.is_tensor_spec() or len(schema.inputs) != 1:
        return
    spec = schema.inputs[0]
    if any(d < 0 for d in spec.shape[1:]) or spec.dtype.kind not in "biuf":
        return
    import numpy as np

    try:
        impl.predict(np.zeros((2, *spec.shape[1:]), dtype=spec.dtype))
    except Exception:  # noqa: BLE001 - a warm-up never decides whether the model loads
        pass


FLAVOR = PyTorchFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog


# ------------------------------------------------------------------------------------------------
# checkpoints logged while a Lightning model trains (autolog(checkpoint=True), MlflowModelCheckpointCallback)


def load_checkpoint(model_class: Any, run_id: str | None = None, epoch: int | None = None,
                    global_step: int | None = None, kwargs: dict[str, Any] | None = None, *,
                    allow_pickle: bool | None = None) -> Any:
    """A Lightning model rebuilt from a checkpoint its training logged (``model_class.load_from_checkpoint``).

    The latest checkpoint of the run (the one its ``mlflow.latest_checkpoint_artifact`` tag names), or the
    one logged at ``epoch`` (``checkpoint_save_freq="epoch"``) or ``global_step`` (a number of steps) with
    ``checkpoint_save_best_only=False``. MLflow's autologging and tureen's write the same files, so either
    reads the other's.

    The file is read with ``torch.load(weights_only=True)``, which unpickles only tensors and plain data:
    Lightning's checkpoints load that way. One that needs full unpickling (objects of other classes in its
    hyperparameters or callback states, or a file crafted to run code) passes the unsafe gate: loaded only
    when ``allow_pickle`` (else ``TUREEN_ALLOW_PICKLE``) allows it, never because of what the file says.

    Args:
        model_class: the ``LightningModule`` subclass the checkpoint was trained as.
        run_id: the run that logged it; default the active run, else the last run this process started.
        epoch: the epoch of the checkpoint (not with ``global_step``).
        global_step: the global step of the checkpoint (not with ``epoch``).
        kwargs: keyword arguments for ``load_from_checkpoint`` (hyperparameters to override,
            ``map_location``, ``strict``).
        allow_pickle: allow a checkpoint that needs full unpickling (tureen's; ``None``: ``TUREEN_ALLOW_PICKLE``,
            default allowed).

    Returns:
        The model, as ``model_class.load_from_checkpoint`` returns it.

    Raises:
        InvalidParameterError: both ``epoch`` and ``global_step``, a negative or non-integer one, no run; a
            ``model_class`` that is not a Lightning module class.
        ResourceNotFoundError: the run logged no checkpoint, or none at that epoch or step.
        ModelFormatError: the run's checkpoint tag names another file; the file is not a torch checkpoint.
        UnsafeDeserializationError: the checkpoint needs full unpickling and the gate is closed.

    Example:
        >>> tureen.pytorch.autolog(checkpoint_save_best_only=False)  # doctest: +SKIP
        >>> trainer.fit(Net(), loader)  # doctest: +SKIP
        >>> first = tureen.pytorch.load_checkpoint(Net, epoch=0)  # doctest: +SKIP
    """
    import inspect
    import pickle
    import tempfile

    from tureen.flavors._checkpoints import checkpoint_file
    from tureen.flavors._gate import check_zip, require_unsafe_allowed

    if not isinstance(model_class, type) or not callable(getattr(model_class, "load_from_checkpoint", None)):
        raise InvalidParameterError(f"load_checkpoint needs the LightningModule class the model was trained as, "
                                    f"got {model_class!r}")
    options = dict(kwargs or {})
    if not all(isinstance(k, str) for k in options):
        raise InvalidParameterError(f"kwargs must be a dict of keyword arguments, got {kwargs!r}")
    # weights_only=False in kwargs asks for full unpickling: the gate decides, as for any other such load
    wants_full = options.pop("weights_only", None) is False
    _torch()
    with tempfile.TemporaryDirectory(prefix="tureen-checkpoint-") as tmp:
        path = checkpoint_file(run_id, epoch, global_step, ".pth", tmp)
        if zipfile.is_zipfile(path):
            check_zip(path)
        else:
            with open(path, "rb") as f:
                if f.read(2) != b"\x80\x02":  # torch.save's legacy (non-zip) format starts as a pickle
                    raise ModelFormatError(f"The checkpoint {Path(path).name} is not a torch checkpoint")
        takes_weights_only = "weights_only" in inspect.signature(model_class.load_from_checkpoint).parameters
        if not wants_full:
            try:
                if takes_weights_only:
                    return model_class.load_from_checkpoint(path, weights_only=True, **options)
                _torch().load(path, map_location="cpu", weights_only=True)  # older Lightning: check it first
                return model_class.load_from_checkpoint(path, **options)
            except pickle.UnpicklingError as exc:
                # torch's message goes on about its defaults: its first sentence says what was refused
                reason = str(exc).strip().split(". ")[0] or "it needs full unpickling"
            except (EOFError, zipfile.BadZipFile) as exc:
                raise ModelFormatError(f"The checkpoint {Path(path).name} is not a torch checkpoint: {exc}") from exc
            except RuntimeError as exc:
                if "PytorchStreamReader" in str(exc) or "invalid load key" in str(exc):
                    raise ModelFormatError(f"The checkpoint {Path(path).name} is not a torch checkpoint: "
                                           f"{str(exc).strip().splitlines()[0]}") from exc
                raise
        else:
            reason = "weights_only=False was asked for"
        require_unsafe_allowed(f"the Lightning checkpoint {Path(path).name} with full unpickling ({reason})",
                               allow_pickle)
        if takes_weights_only:
            return model_class.load_from_checkpoint(path, weights_only=False, **options)
        return model_class.load_from_checkpoint(path, **options)


def __getattr__(name: str) -> Any:
    # the Lightning callback is built on first use, so that importing this module imports no Lightning
    if name == "MlflowModelCheckpointCallback":
        import importlib

        # by the autologger's import string, as autolog() is reached: this module never imports tureen.autolog
        return importlib.import_module(FLAVOR.autolog_module).checkpoint_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
