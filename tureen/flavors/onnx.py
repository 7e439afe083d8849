"""The ONNX flavor: ``onnx.ModelProto`` saved as an ONNX file (a protobuf: no code runs at load).

MLflow's layout: ``model.onnx`` (plus ``model.onnx.data`` when the weights are stored as external data), the
section below and ``loader_module: mlflow.onnx``, so MLflow 3.x loads these models and tureen loads MLflow's
(whose external-data file names are random: every one is accepted as long as it lies inside the model).

* ``save_as_external_data``: ``None`` (default) stores the weights in ``model.onnx`` unless the model is too
  big for one protobuf (2 GB), ``True`` always stores them in ``model.onnx.data``, ``False`` never.
* ``onnx_execution_providers`` / ``onnx_session_options``: recorded in MLmodel and used to build the
  onnxruntime session; the caller overrides both at load (``model_config={"providers": [...],
  "session_options": {...}}``). Providers that are not available fall back to the CPU.

Loading checks every external-data reference first: it must name a file inside the model directory and lie
within that file, so a model cannot make onnxruntime read any other file or allocate more than its files hold.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "onnx"
DATA_FILE = "model.onnx"
EXTERNAL_DATA_FILE = "model.onnx.data"
DEFAULT_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]  # MLflow's default
_PROTO_LIMIT = 2 * 1024**3 - 64 * 1024**2  # protobuf's 2 GB limit, less room for the graph itself
_SESSION_OPTIONS = ("inter_op_num_threads", "intra_op_num_threads", "execution_mode", "graph_optimization_level",
                    "extra_session_config")
_MAX_THREADS = 256


def get_default_pip_requirements() -> list[str]:
    """``onnx==<installed>`` and ``onnxruntime==<installed>``.

    Example:
        >>> get_default_pip_requirements()[0].startswith("onnx==")  # doctest: +SKIP
        True
    """
    from tureen.env import _version, pin

    runtime = "onnxruntime" if _version("onnxruntime") or not _version("onnxruntime-gpu") else "onnxruntime-gpu"
    return [pin("onnx"), pin(runtime)]


def _onnx() -> Any:
    from tureen._optional import import_optional

    return import_optional("onnx", "the onnx flavor")


def _ort() -> Any:
    from tureen._optional import import_optional

    return import_optional("onnxruntime", "the onnx flavor (inference)")


def _check_session_options(options: Any) -> dict[str, Any] | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InvalidParameterError(f"onnx_session_options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(_SESSION_OPTIONS))
    if unknown:
        raise InvalidParameterError(f"Unknown onnx_session_options {unknown}; known: {list(_SESSION_OPTIONS)}")
    for key in ("inter_op_num_threads", "intra_op_num_threads"):
        value = options.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not 0 <= value <= _MAX_THREADS):
            raise InvalidParameterError(f"onnx_session_options {key} must be an integer 0..{_MAX_THREADS}")
    mode = options.get("execution_mode")
    if mode is not None and str(mode).upper() not in ("SEQUENTIAL", "PARALLEL"):
        raise InvalidParameterError("onnx_session_options execution_mode must be 'sequential' or 'parallel'")
    level = options.get("graph_optimization_level")
    if level is not None and level not in (0, 1, 2, 99):
        raise InvalidParameterError("onnx_session_options graph_optimization_level must be 0, 1, 2 or 99")
    extra = options.get("extra_session_config")
    if extra is not None and (not isinstance(extra, dict)
                              or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items())):
        raise InvalidParameterError("onnx_session_options extra_session_config must map strings to strings")
    return dict(options)


def _check_providers(providers: Any) -> list[Any]:
    if isinstance(providers, str):
        providers = [providers]
    if not isinstance(providers, (list, tuple)) or not providers:
        raise InvalidParameterError("onnx_execution_providers must be a non-empty list of provider names")
    out: list[Any] = []
    for p in providers:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], dict):
            out.append([p[0], dict(p[1])])
        else:
            raise InvalidParameterError(f"An execution provider is a name or [name, options]; got {p!r}")
    return out


class OnnxFlavor(Flavor):
    """ONNX files run by onnxruntime; MLflow's ``onnx`` section and ``loader_module: mlflow.onnx``."""

    name = FLAVOR_NAME
    loader_module = "mlflow.onnx"
    packages = {"onnx": "onnx", "onnxruntime": "onnxruntime"}
    extra = "onnx"
    #: onnxruntime's thread pools, created with the session, do not survive a fork: servers load per worker
    fork_safe = False

    def write(self, model: Any, root: Path, *, onnx_execution_providers: list[Any] | None = None,
              onnx_session_options: dict[str, Any] | None = None,
              save_as_external_data: bool | None = None) -> Written:
        """Write an ``onnx.ModelProto``.

        Args:
            model: the ONNX model (``onnx.load(...)``, or what a converter such as skl2onnx returns).
            onnx_execution_providers: onnxruntime providers in order of preference (default: CUDA, then CPU).
            onnx_session_options: ``inter_op_num_threads``, ``intra_op_num_threads``, ``execution_mode``,
                ``graph_optimization_level``, ``extra_session_config`` (MLflow's keys).
            save_as_external_data: see the module docstring (default: only when over 2 GB).

        Example:
            >>> save_model(onnx.load("model.onnx"), "onnx_model", input_example=x[:5])  # doctest: +SKIP
        """
        if isinstance(model, type) or type(model).__name__ != "ModelProto" \
                or not type(model).__module__.startswith("onnx"):
            raise UnsupportedModelError(f"The onnx flavor saves onnx.ModelProto objects; got "
                                        f"{type(model).__module__}.{type(model).__qualname__}." + suggest_flavor(model))
        providers = _check_providers(onnx_execution_providers if onnx_execution_providers is not None
                                     else DEFAULT_PROVIDERS)
        options = _check_session_options(onnx_session_options)
        onnx = _onnx()
        try:
            onnx.checker.check_model(model, full_check=False)
        except onnx.checker.ValidationError as exc:
            raise UnsupportedModelError(f"The ONNX model is not valid: {str(exc).splitlines()[0]}") from None
        external = save_as_external_data if save_as_external_data is not None else model.ByteSize() > _PROTO_LIMIT
        target = root / DATA_FILE
        if external:
            # saving as external data rewrites the tensors of the proto it is given: save a copy
            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            onnx.save_model(copy, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=EXTERNAL_DATA_FILE, size_threshold=1024)
        else:
            onnx.save_model(model, str(target))
        session = _session(str(target), providers, options, None)
        conf = {"onnx_version": onnx.__version__, "data": DATA_FILE, "providers": providers,
                "onnx_session_options": options, "code": None}
        return Written(conf=conf, pyfunc={"data": DATA_FILE}, predict=_OnnxPredictor(session, model).predict,
                       requirements=get_default_pip_requirements())

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        """The ``onnx.ModelProto`` (external data loaded, after checking every reference)."""
        onnx = _onnx()
        warn_version_mismatch("onnx", conf.get("onnx_version"), onnx.__version__)
        file = _checked_model_file(root, conf)
        try:
            return onnx.load(str(file), load_external_data=True)
        except Exception as exc:  # noqa: BLE001 - protobuf and onnx raise many kinds
            raise ModelFormatError(f"The ONNX file {file.name} cannot be loaded: {exc}") from exc

    def load_pyfunc(self, root: Path, *, allow_pickle: bool | None = None,
                    model_config: dict[str, Any] | None = None, meta: Any = None) -> Predictor:
        from tureen.models.mlmodel import Model

        meta = meta if meta is not None else Model.load(root)
        conf = meta.get_flavor(FLAVOR_NAME)
        _onnx()
        file = _checked_model_file(Path(root), conf)
        config = dict(model_config or {})
        caller = {"providers", "session_options"} & set(config)
        providers = config.get("providers") if "providers" in caller else conf.get("providers")
        try:
            providers = _check_providers(providers or DEFAULT_PROVIDERS)
            stored = conf.get("onnx_session_options") or None
            if stored and stored.get("extra_session_config"):
                # free-form onnxruntime settings are the caller's to choose, not the artifact's
                warnings.warn("Ignoring extra_session_config recorded in the model; pass it at load with "
                              "model_config={'session_options': {...}}", UserWarning, stacklevel=3)
                stored = {k: v for k, v in stored.items() if k != "extra_session_config"}
            options = _check_session_options(config["session_options"] if "session_options" in caller else stored)
        except InvalidParameterError as exc:
            if caller:
                raise
            raise ModelFormatError(f"The model's MLmodel onnx settings are invalid: {exc.message}") from None
        return _OnnxPredictor(_session(str(file), providers, options, file.stat().st_size))


def _checked_model_file(root: Path, conf: dict[str, Any]) -> Path:
    """The model file, after checking that its external-data references stay inside the model directory."""
    file = resolve_data_file(root, conf.get("data") or DATA_FILE, "ONNX model")
    if file.is_dir():
        raise ModelFormatError(f"The ONNX model path {file.name} is a directory")
    onnx = _onnx()
    from onnx.external_data_helper import _get_all_tensors

    try:
        proto = onnx.load(str(file), load_external_data=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelFormatError(f"The ONNX file {file.name} cannot be parsed: {exc}") from exc
    base = file.parent.resolve()
    model_root = Path(root).resolve()
    for tensor in _get_all_tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        target = (base / location).resolve()
        if not location or os.path.isabs(location) or model_root not in target.parents or not target.is_file():
            raise ModelFormatError(f"Tensor {tensor.name!r} of {file.name} refers to external data "
                                   f"{location!r}, which is not a file inside the model directory")
        try:
            offset, length = int(entries.get("offset", 0)), int(entries.get("length", -1))
        except ValueError:
            raise ModelFormatError(f"Tensor {tensor.name!r} has a malformed external-data offset/length") from None
        size = target.stat().st_size
        if offset < 0 or offset > size or (length >= 0 and offset + length > size):
            raise ModelFormatError(f"Tensor {tensor.name!r} reads past the end of its external data {location!r}")
    return file


def _provider_name(p: Any) -> str:
    return p if isinstance(p, str) else p[0]


def _session(path: str, providers: list[Any], options: dict[str, Any] | None, _size: int | None) -> Any:
    ort = _ort()
    so = ort.SessionOptions()
    options = options or {}
    if options.get("inter_op_num_threads"):
        so.inter_op_num_threads = options["inter_op_num_threads"]
    if options.get("intra_op_num_threads"):
        so.intra_op_num_threads = options["intra_op_num_threads"]
    if options.get("execution_mode"):
        so.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if str(options["execution_mode"]).upper() == "PARALLEL"
                             else ort.ExecutionMode.ORT_SEQUENTIAL)
    if options.get("graph_optimization_level") is not None:
        so.graph_optimization_level = ort.GraphOptimizationLevel(options["graph_optimization_level"])
    for key, value in (options.get("extra_session_config") or {}).items():
        so.add_session_config_entry(key, value)
    available = set(ort.get_available_providers())
    usable = [tuple(p) if isinstance(p, list) else p for p in providers if _provider_name(p) in available]
    try:
        return ort.InferenceSession(path, sess_options=so, providers=usable or ["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelFormatError(f"onnxruntime cannot load {Path(path).name}: {str(exc).splitlines()[0]}") from exc


class _OnnxPredictor(Predictor):
    """pyfunc: DataFrame / array / dict feeds -> onnxruntime -> outputs, as MLflow's wrapper answers."""

    def __init__(self, session: Any, model: Any = None) -> None:
        super().__init__(model if model is not None else session)
        self.session = session
        self.inputs = [(i.name, i.type) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        import numpy as np

        self._ndarray = np.ndarray
        # a single float32 input fed a float32 array goes straight to the session (the common 1-row call)
        self._direct = self.inputs[0][0] if len(self.inputs) == 1 and self.inputs[0][1] == "tensor(float)" else None
        self._run_direct = _native_run(session) if self._direct is not None else None

    def get_raw_model(self) -> Any:
        return self.session  # what MLflow's wrapper returns

    def _run(self, feeds: dict[str, Any]) -> list[Any]:
        import numpy as np

        for name, kind in self.inputs:  # JSON round trips give float64; float tensors take float32
            value = feeds.get(name)
            if kind == "tensor(float)" and isinstance(value, np.ndarray) and value.dtype == np.float64:
                feeds[name] = value.astype(np.float32)
        try:
            return self.session.run(self.output_names, feeds)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's InvalidArgument/Fail are not exported types
            text = " ".join(str(exc).split())
            raise SchemaEnforcementError(f"The input does not fit the ONNX model: {text[:400]}", [text]) from None

    def _frame(self, outputs: list[Any]) -> Any:
        import numpy as np
        import pandas as pd

        return pd.DataFrame({n: np.asarray(o).reshape(-1) for n, o in zip(self.output_names, outputs)})

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self._run_direct is not None and type(data) is self._ndarray and data.dtype.char == "f":
            try:
                return dict(zip(self.output_names, self._run_direct(self.output_names, {self._direct: data}, None)))
            except Exception:  # noqa: BLE001 - the full path below (InferenceSession.run) retries and types it
                pass
        import numpy as np

        if isinstance(data, dict):
            return dict(zip(self.output_names, self._run({k: np.asarray(v) for k, v in data.items()})))
        if type(data).__name__ == "DataFrame":
            if len(self.inputs) > 1:
                missing = [n for n, _ in self.inputs if n not in data.columns]
                if missing:
                    raise SchemaEnforcementError(f"The ONNX model needs input columns {missing}",
                                                 [f"missing column {m}" for m in missing])
                feeds = {n: data[n].to_numpy() for n, _ in self.inputs}
            else:
                feeds = {self.inputs[0][0]: data.to_numpy()}
            return self._frame(self._run(feeds))
        if isinstance(data, (list, tuple)):
            data = np.asarray(data)
        if isinstance(data, np.ndarray):
            if len(self.inputs) != 1:
                raise SchemaEnforcementError(f"An array feeds a single-input ONNX model; this one takes "
                                             f"{[n for n, _ in self.inputs]}: pass a dict or a DataFrame",
                                             ["array input for a multi-input model"])
            return dict(zip(self.output_names, self._run({self.inputs[0][0]: data})))
        raise SchemaEnforcementError(f"The ONNX model takes a DataFrame, an array or a dict of arrays; got "
                                     f"{type(data).__name__}", [f"unsupported input {type(data).__name__}"])

    def block_predictor(self, names: list[str], method: str = "predict") -> Any:
        """Single-input models take the DataFrame's values as their one tensor: the server's 2-D array is
        exactly that feed, so it is scored directly (same answer, no DataFrame built)."""
        if method != "predict" or len(self.inputs) != 1 or not self.inputs[0][1].startswith("tensor("):
            return None
        name = self.inputs[0][0]
        return lambda block: self._frame(self._run({name: block}))


def _native_run(session: Any) -> Any:
    """The session's compiled ``run`` for the one-float-array feed, or its public ``run``.

    ``InferenceSession.run`` checks, in Python, on every call, what that feed satisfies by construction: the
    one input is fed under its own name, the value is a numpy array (not an OrtValue of another session) and
    WebGPU graph capture (checked here, once) is off. Calling the compiled session skips ~2 us of that per call;
    any failure there falls back to the public ``run`` (which also handles the execution-provider fallback)."""
    inner = getattr(session, "_sess", None)
    run = getattr(inner, "run", None)
    try:
        capture = bool(inner.is_webgpu_graph_capture_enabled()) if hasattr(inner, "is_webgpu_graph_capture_enabled") else False
    except Exception:  # noqa: BLE001 - unknown: use the public run
        capture = True
    if run is None or capture:
        return session.run
    return run


FLAVOR = OnnxFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
