"""``load_model`` and :class:`PyFuncModel`: the generic predict interface over every flavor."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from tureen.exceptions import ModelFormatError, ResourceNotFoundError, TureenError
from tureen.flavors import flavor_for_loader
from tureen.flavors._flavor import Predictor
from tureen.flavors._gate import pickle_allowed, resolve_loader_module
from tureen.flavors._integrity import require_verified, verify_model_dir
from tureen.models._paths import check_model_paths, check_no_symlinks, confined_path
from tureen.models.mlmodel import Model

__all__ = ["load_model", "PyFuncModel"]

PYFUNC = "python_function"


class PyFuncModel:
    """A loaded model with one ``predict(data, params=None)`` for every flavor; the signature is enforced.

    Example:
        >>> model = load_model("churn_model")  # doctest: +SKIP
        >>> model.predict(df)  # doctest: +SKIP
    """

    def __init__(self, model_meta: Model, impl: Any, *, root: Path | None = None, predict_fn: str = "predict",
                 extra_columns: str = "error") -> None:
        self._meta = model_meta
        self._impl = impl
        self._root = root
        self._predict_fn_name = predict_fn
        self._predict = getattr(impl, predict_fn)
        self._extra_columns = extra_columns
        if isinstance(impl, Predictor):
            self._takes_params = True  # the Predictor contract: predict(data, params=None)
        else:  # a foreign loader's object (MLflow's convention): ask its signature
            try:
                self._takes_params = "params" in inspect.signature(self._predict).parameters
            except (TypeError, ValueError):
                self._takes_params = False
        sig = model_meta.signature
        self._input_schema = sig.inputs if sig is not None else None
        self._params_schema = sig.params if sig is not None else None
        self._skip_inputs = model_meta.is_signature_from_type_hint
        # imported here, at load, so the first request does not pay for it
        from tureen.models.enforce import enforce_params, enforce_schema

        self._enforce_schema = enforce_schema
        self._enforce_params = enforce_params

    @property
    def metadata(self) -> Model:
        """The model's MLmodel description."""
        return self._meta

    @property
    def loader_module(self) -> str:
        return self._meta.flavors[PYFUNC]["loader_module"]

    @property
    def model_path(self) -> Path | None:
        return self._root

    @property
    def input_example(self) -> Any:
        from tureen.models.example import load_example

        if self._root is None:
            return None
        return load_example(self._root, self._meta.saved_input_example_info, self._input_schema)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on ``data`` after checking it (and ``params``) against the signature.

        Raises:
            SchemaEnforcementError: the input or params do not fit the signature (every problem listed).
        """
        if self._input_schema is not None and not self._skip_inputs:
            data = self._enforce_schema(data, self._input_schema, extra=self._extra_columns)
        if params or self._params_schema is not None:
            params = self._enforce_params(params, self._params_schema)
        if self._takes_params:
            return self._predict(data, params=params or None)
        return self._predict(data)

    def _block_predictor(self) -> Any:
        """For the scoring server: a function scoring a 2-D array of the signature's columns, in order, when
        every column is a required number of one type and the flavor can score such an array exactly as it
        scores the DataFrame made from it (see ``block_predictor`` in the sklearn flavor); else None.

        The caller guarantees the array already fits the signature (names, order, dtype): the server's codec
        builds it only then.
        """
        schema = self._input_schema
        if not isinstance(self._impl, Predictor):
            return None
        factory = self._impl.block_predictor
        if (schema is None or self._skip_inputs or self._params_schema is not None
                or self._extra_columns != "error"):
            return None
        uniform = schema.uniform_numeric()
        return factory(uniform[0], self._predict_fn_name) if uniform is not None else None

    def unwrap_python_model(self) -> Any:
        """The user's :class:`~tureen.pyfunc.PythonModel` instance (custom models only)."""
        python_model = getattr(self._impl, "python_model", None)
        if python_model is None:
            raise TureenError("unwrap_python_model() is for custom Python models; this model's loader is "
                              f"{self.loader_module}")
        return python_model

    def get_raw_model(self) -> Any:
        """The native model object (estimator, booster, module, ...)."""
        if isinstance(self._impl, Predictor):
            return self._impl.get_raw_model()
        getter = getattr(self._impl, "get_raw_model", None)
        return getter() if getter is not None else self._impl

    def __repr__(self) -> str:
        flavors = ", ".join(sorted(self._meta.flavors))
        return f"PyFuncModel(flavors=[{flavors}], loader_module={self.loader_module!r})"


def load_model(model_uri: str | os.PathLike[str], *, allow_pickle: bool | None = None, verify: bool = True,
               model_config: dict[str, Any] | None = None, extra_columns: str = "error",
               verified_only: bool | None = None, zip_limits: Any = None, **_compat: Any) -> PyFuncModel:
    """Load any model as a :class:`PyFuncModel`, from a path or URI (``file://``, ``runs:/``, ``models:/``).

    Args:
        model_uri: where the model is.
        allow_pickle: allow pickle-based formats (default: ``TUREEN_ALLOW_PICKLE``, which defaults to true).
        verify: check every file (and the MLmodel) against the digests recorded at save time; a model
            without digests loads with an ``UnverifiedModelWarning``.
        verified_only: refuse models without digests (default: ``TUREEN_VERIFIED_ONLY``, default false);
            it applies even with ``verify=False``.
        model_config: overrides for the model's ``config`` section.
        extra_columns: ``"error"`` (default) or ``"drop"`` for input columns the signature does not declare.
        zip_limits: a :class:`tureen.flavors.ZipLimits` for the zip archives this load opens (``.keras``,
            ``.pt2``, skops, torch zips); default the ``TUREEN_ZIP_MAX_*`` settings.

    Raises:
        ResourceNotFoundError: nothing at the URI, or the model has no python_function flavor.
        ModelFormatError: no or corrupt MLmodel, missing data file; ModelIntegrityError when tampered.
        UnsafeDeserializationError: the model needs pickle and it is turned off.
        UnverifiedModelError: no digests and verified models are required; ModelPathError: a symlink in
            the directory or a path that leaves it.

    Example:
        >>> load_model("churn_model").predict(df)  # doctest: +SKIP
    """
    from tureen.uri import resolve_model_uri

    if extra_columns not in ("error", "drop"):
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"extra_columns must be 'error' or 'drop', got {extra_columns!r}")
    root = resolve_model_uri(model_uri)
    meta = Model.load(root)
    if verify or require_verified(verified_only):
        verify_model_dir(root, meta, verified_only=verified_only)
    else:
        check_no_symlinks(root)
        check_model_paths(root, meta)
    if (meta.metadata or {}).get("mlflow.model.isExternal") is True:
        from tureen.exceptions import BadRequestError

        raise BadRequestError("This model is external (metadata mlflow.model.isExternal) and cannot be loaded")
    conf = meta.flavors.get(PYFUNC)
    if conf is None:
        raise ResourceNotFoundError(f"The model at {str(model_uri)!r} has no python_function flavor (it has "
                                    f"{', '.join(sorted(meta.flavors))}); load it with its flavor's load_model")
    loader = conf.get("loader_module")
    if not loader:
        raise ModelFormatError("MLmodel's python_function flavor has no loader_module")
    # the allow-list decides which module loads the model, before anything is imported
    resolve_loader_module(loader)
    flavor = flavor_for_loader(loader)
    if flavor is None:  # allow-listed but not a Flavor: refuse rather than import it by name
        from tureen.exceptions import UntrustedCodeError

        raise UntrustedCodeError(f"loader_module {loader!r} has no registered tureen flavor")
    # decided once, here, by the caller: a bad TUREEN_ALLOW_PICKLE fails before any load starts
    allow = pickle_allowed(allow_pickle)
    from tureen.env import check_environment

    check_environment(root, conf.get("python_version"))
    if conf.get("data"):
        confined_path(root, conf["data"], "data path")  # the data path stays inside the model directory
    predict_fn = conf.get("predict_fn") or "predict"
    if not isinstance(predict_fn, str) or not predict_fn.isidentifier() or predict_fn.startswith("_"):
        # the artifact names a method of the loaded model, never a private or special attribute
        raise ModelFormatError(f"MLmodel's predict_fn {predict_fn!r} is not a public method name")
    config = dict(conf.get("config") or {})
    config.update(model_config or {})
    # the model's code/ directory: behind the gate, confined, and sys.path / sys.modules restored after;
    # no bytecode caches are written into the (digested) model directory
    from tureen.flavors._gate import loading

    with loading(root, conf.get("code"), allow_pickle=allow, zip_limits=zip_limits):
        impl = flavor.load_pyfunc(root, allow_pickle=allow, model_config=config or None, meta=meta)
    known = impl.predict_fns if isinstance(impl, Predictor) else None
    if (known is not None and predict_fn not in known) or not hasattr(impl, predict_fn):
        raise ModelFormatError(f"The model's pyfunc implementation has no method {predict_fn!r}")
    return PyFuncModel(meta, impl, root=root, predict_fn=predict_fn, extra_columns=extra_columns)

