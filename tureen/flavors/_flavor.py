"""``Flavor``: the one small base class every flavor (built-in or third-party) derives from.

A flavor *declares* its facts as class attributes and writes three methods:

* ``write(model, root, **options) -> Written``: put the model's own files in ``root`` (a temp directory) and
  describe its MLmodel section, its python_function keys, how to predict (for signature inference) and the
  requirements it pins;
* ``read(root, conf, *, allow_pickle, **options)``: the native model back from a model directory; every
  load that could run code passes the gate with the caller's ``allow_pickle``;
* ``predictor(raw, root=..., conf=..., model_config=...) -> Predictor``: the pyfunc object around it;

and optionally ``needs_pickle(root, conf)`` (for ``tureen models inspect``) and ``describe(root, conf)``.
The base does the rest once for all: ``save_model`` (atomic, through :func:`save_model_dir`),
``log_model``, ``load_model``, the pyfunc loader (``load_pyfunc``, always handed the caller's trust
decision) and ``autolog`` (the autologger named by import string, so a flavor module and its autologger do
not import each other).

Example:
    >>> class Echo(Flavor):
    ...     name = "echo"
    ...     loader_module = "echo_flavor"
    ...     def write(self, model, root, **options):
    ...         (root / "value.txt").write_text(str(model))
    ...         return Written(conf={"data": "value.txt"}, pyfunc={}, predict=lambda x: x)
    ...     def read(self, root, conf, *, allow_pickle=None):
    ...         return (root / conf["data"]).read_text()
    ...     def predictor(self, raw, **context):
    ...         return Predictor(raw)
    >>> Echo().name
    'echo'
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from tureen.exceptions import InvalidParameterError, ModelFormatError

__all__ = ["Flavor", "Predictor", "Written"]


@dataclass(frozen=True)
class Written:
    """What :meth:`Flavor.write` tells the base about one save."""

    #: the flavor's MLmodel section
    conf: dict[str, Any]
    #: python_function keys beyond ``loader_module``/``env``/``python_version`` (``{}`` for none), or None
    #: when pyfunc cannot load the model
    pyfunc: dict[str, Any] | None = field(default_factory=dict)
    #: called on the (enforced) input example to infer the output schema
    predict: Callable[[Any], Any] | None = None
    #: the flavor's pinned requirements (``tureen.env.pin``)
    requirements: list[str] = field(default_factory=list)
    #: objects whose modules are inspected for further requirements
    requirement_objects: list[Any] = field(default_factory=list)


class Predictor:
    """The pyfunc side of a flavor: ``predict(data, params=None)`` plus declared capabilities.

    Subclasses override ``predict`` and, when they can, ``block_predictor``. ``predict_fns`` lists the methods
    that MLmodel's ``predict_fn`` may name (each takes ``(data, params=None)``).

    Example:
        >>> Predictor(3).get_raw_model()
        3
    """

    predict_fns: ClassVar[tuple[str, ...]] = ("predict",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def get_raw_model(self) -> Any:
        """The native model object."""
        return self.raw

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement predict")

    def block_predictor(self, names: list[str], method: str = "predict") -> Callable[[Any], Any] | None:
        """A function scoring a 2-D numeric array whose columns are ``names`` (the serving fast path), or None
        when the model could answer such an array differently from the same values as a DataFrame."""
        return None


class Flavor:
    """Base class of every flavor: declared facts + ``write``/``read``/``predictor``; the base does the rest."""

    #: the MLmodel flavor section name (``sklearn``, ``statsmodels``, ...)
    name: ClassVar[str]
    #: the pyfunc ``loader_module`` written to MLmodel (MLflow's name, so MLflow loads the model too)
    loader_module: ClassVar[str | None] = None
    #: further ``loader_module`` values this flavor reads (older or alternative names)
    also_reads: ClassVar[tuple[str, ...]] = ()
    #: top-level import name -> pip distribution of the framework(s) (hints and missing-package errors)
    packages: ClassVar[dict[str, str]] = {}
    #: the tureen extra that installs them (``pip install 'tureen[<extra>]'``)
    extra: ClassVar[str | None] = None
    #: whether a loaded model may be shared with worker processes forked after loading
    fork_safe: ClassVar[bool] = True
    #: Debian packages the framework needs at runtime (docker images)
    system_packages: ClassVar[tuple[str, ...]] = ()
    #: import string of the module whose ``autolog(**kwargs)`` turns autologging on, or None
    autolog_module: ClassVar[str | None] = None
    #: whether ``save_model`` infers a signature from ``input_example`` when none is given
    infer_signature: ClassVar[bool] = True

    # -------------------------------------------------------------------------------------------- to write

    def write(self, model: Any, root: Path, **options: Any) -> Written:
        """Write the model's own files into ``root``; raise ``UnsupportedModelError`` for a wrong object."""
        raise NotImplementedError

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None, **options: Any) -> Any:
        """The native model from the directory ``root`` whose flavor section is ``conf``."""
        raise NotImplementedError

    def predictor(self, raw: Any, *, root: Path, conf: dict[str, Any], model_config: dict[str, Any] | None,
                  meta: Any) -> Predictor:
        """The pyfunc :class:`Predictor` around a native model."""
        return Predictor(raw)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """Whether loading this model passes the unsafe gate (default: it does not)."""
        return False

    def describe(self, root: Path, conf: dict[str, Any]) -> dict[str, Any]:
        """Facts about a saved model for ``tureen models inspect`` (default: none)."""
        return {}

    def check_signature(self, signature: Any) -> None:
        """Refuse a signature this flavor cannot serve (raise ``InvalidParameterError``)."""

    def prepare_example(self, input_example: Any) -> Any:
        """The input example as it is saved (e.g. framework tensors as numpy); default: unchanged."""
        return input_example

    # -------------------------------------------------------------------------------------------- done here

    def _check_options(self, options: dict[str, Any]) -> None:
        params = inspect.signature(self.write).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(set(options) - set(params))
        if unknown:
            raise InvalidParameterError(f"save_model of the {self.name} flavor got unknown option(s) "
                                        f"{', '.join(unknown)}")

    def save_model(self, model: Any = None, path: str | os.PathLike[str] | None = None, *, signature: Any = None,
                   input_example: Any = None, pip_requirements: Any = None, extra_pip_requirements: Any = None,
                   metadata: dict[str, Any] | None = None, code_paths: Any = None, extra_files: Any = None,
                   mlflow_model: Any = None, **options: Any) -> Any:
        """Save ``model`` as an MLmodel directory at ``path`` (atomically); returns the written Model.

        ``options`` are the flavor's own (see its ``write``). The model may also be passed under MLflow's
        keyword for the flavor (``sk_model=``, ``xgb_model=``, ``lgb_model=``, ``pytorch_model=`` ...).
        """
        from tureen.flavors._base import SaveSpec, save_model_dir

        model = _mlflow_model_keyword(model, options)
        if path is None:
            raise InvalidParameterError("save_model needs path=<a new directory>")

        self._check_options(options)
        input_example = self.prepare_example(input_example)
        example_data = input_example
        if isinstance(input_example, tuple) and len(input_example) == 2 and isinstance(input_example[1], dict):
            example_data = input_example[0]
        if "input_example" in inspect.signature(self.write).parameters:
            options = {**options, "input_example": example_data}
        if "signature" in inspect.signature(self.write).parameters:
            options = {**options, "signature": signature}
        done: list[Written] = []

        def write_data(root: Path) -> dict[str, Any]:
            written = self.write(model, root, **options)
            done.append(written)
            return dict(written.conf)

        def pyfunc_conf(conf: dict[str, Any]) -> dict[str, Any] | None:
            extra = done[0].pyfunc
            if extra is None or self.loader_module is None:
                return None
            return {"loader_module": self.loader_module, **extra}

        def predict(data: Any) -> Any:
            fn = done[0].predict
            return fn(data) if fn is not None else None

        spec = SaveSpec(flavor_name=self.name, write_data=write_data, pyfunc_conf=pyfunc_conf, predict=predict,
                        default_requirements=lambda: list(done[0].requirements),
                        requirement_objects=lambda: list(done[0].requirement_objects),
                        check_signature=self.check_signature, infer_signature_from_example=self.infer_signature)
        return save_model_dir(path, spec, signature=signature, input_example=input_example,
                              pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
                              metadata=metadata, code_paths=code_paths, extra_files=extra_files,
                              mlflow_model=mlflow_model)

    def log_model(self, model: Any = None, name: str | None = None, *, artifact_path: str | None = None,
                  registered_model_name: str | None = None, **kwargs: Any) -> Any:
        """Save the model into the active run's artifacts (and register it); returns a ModelInfo.

        The model may also be passed under MLflow's keyword for the flavor (``sk_model=`` ...)."""
        from tureen.flavors._base import log_model_via_tracking

        model = _mlflow_model_keyword(model, kwargs)

        return log_model_via_tracking(self.name, lambda path, **kw: self.save_model(model, path, **kw),
                                      name=name, artifact_path=artifact_path,
                                      registered_model_name=registered_model_name, **kwargs)

    def load_model(self, model_uri: str | os.PathLike[str], *, allow_pickle: bool | None = None,
                   verify: bool = True, verified_only: bool | None = None, zip_limits: Any = None,
                   **options: Any) -> Any:
        """The native model from any model URI (``allow_pickle``: the caller's trust decision;
        ``verified_only``: refuse models without digests, default ``TUREEN_VERIFIED_ONLY``; ``zip_limits``:
        a :class:`~tureen.flavors.ZipLimits` for the archives opened, default ``TUREEN_ZIP_MAX_*``)."""
        from tureen.flavors._gate import loading, pickle_allowed

        root, meta = checked_model_dir(model_uri, verify=verify, verified_only=verified_only)
        conf = meta.get_flavor(self.name)
        allow = pickle_allowed(allow_pickle)
        with loading(root, conf.get("code"), allow_pickle=allow, zip_limits=zip_limits):
            return self.read(root, conf, allow_pickle=allow, **options)

    def load_pyfunc(self, root: Path, *, allow_pickle: bool | None = None,
                    model_config: dict[str, Any] | None = None, meta: Any = None) -> Predictor:
        """The pyfunc predictor of the model at ``root`` (called by ``tureen.pyfunc.load_model``)."""
        from tureen.models.mlmodel import Model

        root = Path(root)
        meta = meta if meta is not None else Model.load(root)
        conf = meta.get_flavor(self.name)
        raw = self.read(root, conf, allow_pickle=allow_pickle)
        return self.predictor(raw, root=root, conf=conf, model_config=model_config, meta=meta)

    def _load_pyfunc(self, path: str, model_config: dict[str, Any] | None = None,
                     allow_pickle: bool | None = None) -> Predictor:
        """MLflow's calling convention: ``path`` is the model root or its pyfunc ``data`` (file or folder)."""
        return self.load_pyfunc(_model_root(Path(path)), allow_pickle=allow_pickle, model_config=model_config)

    @property
    def autolog(self) -> Callable[..., Any]:
        """The autolog function of this flavor's framework (its autolog module's, with that signature)."""
        return _Autolog(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


#: MLflow's names of the model argument (``mlflow.sklearn.log_model(sk_model=...)`` ...), accepted by every flavor
_MODEL_KEYWORDS = ("sk_model", "xgb_model", "lgb_model", "pytorch_model", "keras_model", "statsmodels_model",
                   "onnx_model", "spark_model", "spacy_model", "fastai_learner", "tf_model")


class _Autolog:
    """``<flavor module>.autolog``: calls the flavor's autolog module (imported on first use) and has its
    signature and docstring, so ``inspect.signature(tureen.keras.autolog)`` lists MLflow's parameters."""

    def __init__(self, flavor: Flavor) -> None:
        self._flavor = flavor

    def _function(self) -> Callable[..., Any]:
        if not self._flavor.autolog_module:
            raise InvalidParameterError(f"The {self._flavor.name} flavor has no autologging")
        return importlib.import_module(self._flavor.autolog_module).autolog

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        try:
            return inspect.signature(self._function())
        except InvalidParameterError:
            return inspect.Signature()

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        try:
            return self._function().__doc__
        except InvalidParameterError:
            return f"The {self._flavor.name} flavor has no autologging."

    def __repr__(self) -> str:
        return f"<autolog of the {self._flavor.name} flavor>"


def _mlflow_model_keyword(model: Any, kwargs: dict[str, Any]) -> Any:
    for key in _MODEL_KEYWORDS:
        if key in kwargs:
            if model is not None:
                raise InvalidParameterError(f"The model was given twice (positionally and as {key}=)")
            model = kwargs.pop(key)
    return model


def _model_root(path: Path) -> Path:
    """The model directory holding ``path``: itself, or the parent of a pyfunc ``data`` file or folder."""
    for candidate in (path, path.parent, path.parent.parent):
        if (candidate / "MLmodel").is_file():
            return candidate
    raise ModelFormatError(f"No MLmodel file at or above {str(path)!r}")


def checked_model_dir(model_uri: Any, *, verify: bool = True, verified_only: bool | None = None) -> tuple[Path, Any]:
    """``(root, Model)`` of a model URI, after the checks every load makes before reading anything:
    digests (unless ``verify=False`` and verified models are not required), no symlinks, no path leaving the
    directory."""
    from tureen.flavors._integrity import require_verified, verify_model_dir
    from tureen.models._paths import check_model_paths, check_no_symlinks
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    root = resolve_model_uri(model_uri)
    meta = Model.load(root)
    if verify or require_verified(verified_only):
        verify_model_dir(root, meta, verified_only=verified_only)
    else:  # no digests checked, but symlinks and paths leaving the directory are still refused
        check_no_symlinks(root)
        check_model_paths(root, meta)
    return root, meta
