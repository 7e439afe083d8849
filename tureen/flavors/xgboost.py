"""The XGBoost flavor: ``xgboost.Booster`` and the scikit-learn wrappers, in XGBoost's own formats (no pickle).

``model_format``:

* ``ubj`` (default): UBJSON, XGBoost's compact native format;
* ``json``: the same content as text.

Models saved by MLflow in the legacy ``xgb`` binary format load too. ``model_class`` records the Python
class (``xgboost.core.Booster``, ``xgboost.sklearn.XGBClassifier``, ...) so the same wrapper comes back; only
classes defined by xgboost itself are instantiated, whatever the file says.

The MLmodel sections are MLflow's (``loader_module: mlflow.xgboost``), so MLflow 3.x loads these models
without tureen, and tureen loads MLflow's XGBoost models without MLflow.
"""

from __future__ import annotations

import functools

import inspect
import os
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import (SaveSpec, class_path, log_model_via_tracking, resolve_data_file, save_model_dir,
                                  suggest_flavor, verify_model_dir, warn_version_mismatch)

__all__ = ["FLAVOR_NAME", "MODEL_FORMATS", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")
_READ_FORMATS = ("ubj", "json", "xgb", "deprecated")
PREDICT_FNS = ("predict", "predict_proba")
#: a loaded model may be shared with forked worker processes (see the load below)
FORK_SAFE = True


def get_default_pip_requirements() -> list[str]:
    """The requirements every XGBoost model needs: the installed xgboost, pinned.

    Example:
        >>> get_default_pip_requirements()[0].startswith("xgboost")  # doctest: +SKIP
        True
    """
    from tureen.env import _version, pin

    # the CPU-only wheel provides the same module under another distribution name
    return [pin("xgboost-cpu") if _version("xgboost") is None and _version("xgboost-cpu") else pin("xgboost")]


def _xgb() -> Any:
    from tureen._optional import import_optional

    return import_optional("xgboost", "the xgboost flavor")


def _check_model(model: Any) -> Any:
    xgb = _xgb()
    if isinstance(model, type):
        raise UnsupportedModelError(f"save_model needs a trained model instance, got the class {model.__name__}")
    if not isinstance(model, (xgb.Booster, xgb.XGBModel)):
        raise UnsupportedModelError(
            f"The xgboost flavor saves xgboost.Booster and the scikit-learn wrappers (XGBClassifier, "
            f"XGBRegressor, XGBRanker); got {class_path(model)}." + suggest_flavor(model))
    if isinstance(model, xgb.XGBModel):
        try:
            model.get_booster()
        except Exception as exc:  # noqa: BLE001 - xgboost raises NotFittedError (a ValueError subclass)
            raise UnsupportedModelError(f"The {type(model).__name__} is not fitted yet: call fit() before "
                                        "saving it") from exc
    return xgb


def save_model(xgb_model: Any, path: str | os.PathLike[str], *, model_format: str = "ubj",
               pyfunc_predict_fn: str = "predict", signature: Any = None, input_example: Any = None,
               pip_requirements: Any = None, extra_pip_requirements: Any = None,
               metadata: dict[str, Any] | None = None, code_paths: Any = None, extra_files: Any = None,
               mlflow_model: Any = None) -> Any:
    """Save an XGBoost model as an MLmodel directory at ``path``.

    Args:
        xgb_model: an ``xgboost.Booster`` or a fitted ``XGBClassifier`` / ``XGBRegressor`` / ``XGBRanker``.
        path: a new (or empty) directory.
        model_format: ``"ubj"`` (default) or ``"json"``.
        pyfunc_predict_fn: ``"predict"`` (default) or ``"predict_proba"`` (classifiers): what pyfunc
            ``predict`` returns. MLflow's own pyfunc loader knows only ``predict``.
        signature: a :class:`~tureen.models.ModelSignature`; inferred from ``input_example`` when omitted.
        input_example: example input (DataFrame or ndarray), saved with the model.
        extra_files: files copied into ``extra_files/`` of the model.

    Returns:
        The written :class:`~tureen.models.Model`.

    Example:
        >>> import xgboost as xgb  # doctest: +SKIP
        >>> save_model(xgb.XGBClassifier(n_estimators=5).fit(X, y), "xgb_model", input_example=X[:5])  # doctest: +SKIP
    """
    xgb = _check_model(xgb_model)
    if model_format not in MODEL_FORMATS:
        raise InvalidParameterError(f"Unknown model_format {model_format!r}; choose one of "
                                    f"{', '.join(MODEL_FORMATS)}")
    if pyfunc_predict_fn not in PREDICT_FNS:
        raise InvalidParameterError(f"Unknown pyfunc_predict_fn {pyfunc_predict_fn!r}; choose one of "
                                    f"{', '.join(PREDICT_FNS)}")
    if pyfunc_predict_fn == "predict_proba" and not hasattr(xgb_model, "predict_proba"):
        raise InvalidParameterError(f"pyfunc_predict_fn='predict_proba' needs a classifier; "
                                    f"{type(xgb_model).__name__} has no predict_proba")
    file_name = f"model.{model_format}"
    wrapper = _XGBPyfunc(xgb_model)
    defaults = get_default_pip_requirements()
    if isinstance(xgb_model, xgb.XGBModel):  # the wrappers import scikit-learn when rebuilt at load
        from tureen.env import pin

        defaults.append(pin("scikit-learn"))

    def write_data(root: Path) -> dict[str, Any]:
        xgb_model.save_model(str(root / file_name))
        return {"xgb_version": xgb.__version__, "data": file_name, "model_class": class_path(xgb_model),
                "model_format": model_format, "code": None}

    def pyfunc_conf(conf: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"loader_module": "mlflow.xgboost", "data": conf["data"]}
        if pyfunc_predict_fn != "predict":
            out["predict_fn"] = pyfunc_predict_fn
        return out

    spec = SaveSpec(flavor_name=FLAVOR_NAME, write_data=write_data, pyfunc_conf=pyfunc_conf,
                    predict=getattr(wrapper, pyfunc_predict_fn),
                    default_requirements=defaults, requirement_objects=[])
    return save_model_dir(path, spec, signature=signature, input_example=input_example,
                          pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
                          metadata=metadata, code_paths=code_paths, extra_files=extra_files,
                          mlflow_model=mlflow_model)


def log_model(xgb_model: Any, name: str | None = None, *, artifact_path: str | None = None,
              registered_model_name: str | None = None, **kwargs: Any) -> Any:
    """Save the model into the active run's artifacts (and register it); returns a ModelInfo.

    Example:
        >>> info = log_model(booster, name="model", registered_model_name="churn")  # doctest: +SKIP
    """
    return log_model_via_tracking(FLAVOR_NAME, functools.partial(save_model, xgb_model),
                                  name=name, artifact_path=artifact_path,
                                  registered_model_name=registered_model_name, **kwargs)


def _model_class(name: str | None) -> Any:
    """The class named in MLmodel, accepted only if xgboost defines it and it is a Booster or a wrapper."""
    xgb = _xgb()
    name = name or "xgboost.core.Booster"
    module, _, attr = name.rpartition(".")
    if module != "xgboost" and not module.startswith("xgboost."):
        raise ModelFormatError(f"MLmodel names model_class {name!r}, which is not an xgboost class")
    import importlib

    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelFormatError(f"model_class {name!r} does not exist in the installed xgboost "
                               f"{xgb.__version__}") from exc
    if not (isinstance(cls, type) and issubclass(cls, (xgb.Booster, xgb.XGBModel))):
        raise ModelFormatError(f"model_class {name!r} is not an xgboost Booster or scikit-learn wrapper")
    return cls


def _load_from_dir(root: Path, conf: dict[str, Any]) -> Any:
    xgb = _xgb()
    warn_version_mismatch("xgboost", conf.get("xgb_version"), xgb.__version__)
    fmt = conf.get("model_format")
    if fmt is not None and fmt not in _READ_FORMATS:
        raise ModelFormatError(f"Unknown xgboost model_format {fmt!r} in MLmodel")
    file = resolve_data_file(root, conf.get("data"), "xgboost model")
    model = _model_class(conf.get("model_class"))()
    try:
        # a single-threaded load leaves no OpenMP thread pool behind, so workers forked after loading
        # (gunicorn with preload) can predict; a pool inherited across fork deadlocks libgomp
        with xgb.config_context(nthread=1):
            model.load_model(str(file))
    except xgb.core.XGBoostError as exc:
        raise ModelFormatError(f"The xgboost model file {file.name} cannot be loaded: "
                               f"{str(exc).splitlines()[0]}") from exc
    return model


def load_model(model_uri: str | os.PathLike[str], *, verify: bool = True, allow_pickle: bool | None = None) -> Any:
    """Load the native XGBoost model (Booster or scikit-learn wrapper) from any model URI.

    Example:
        >>> booster = load_model("xgb_model")  # doctest: +SKIP
    """
    from tureen.flavors._gate import model_code
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    root = resolve_model_uri(model_uri)
    meta = Model.load(root)
    if verify:
        verify_model_dir(root, meta)
    conf = meta.get_flavor(FLAVOR_NAME)
    with model_code(root, conf.get("code"), allow_pickle=allow_pickle):
        return _load_from_dir(root, conf)


def needs_pickle(root: Path, conf: dict[str, Any]) -> bool:
    """XGBoost models never need pickle."""
    return False


def _accepted(func: Any, params: dict[str, Any] | None) -> dict[str, Any]:
    if not params:
        return {}
    try:
        accepted = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return dict(params)
    if any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        return dict(params)
    return {k: v for k, v in params.items() if k in accepted}


class _XGBPyfunc:
    """pyfunc implementation: ``predict`` (and ``predict_proba`` for classifiers) with feature validation."""

    def __init__(self, model: Any) -> None:
        self.xgb_model = model

    def get_raw_model(self) -> Any:
        return self.xgb_model

    def _call(self, method: str, data: Any, params: dict[str, Any] | None) -> Any:
        xgb = _xgb()
        model = self.xgb_model
        try:
            if isinstance(model, xgb.Booster):
                kwargs = _accepted(model.predict, params)
                kwargs.pop("validate_features", None)
                return model.predict(xgb.DMatrix(data), validate_features=True, **kwargs)
            func = getattr(model, method)
            kwargs = _accepted(func, params)
            kwargs.pop("validate_features", None)
            return func(data, validate_features=True, **kwargs)
        except (ValueError, TypeError, xgb.core.XGBoostError) as exc:
            # xgboost's own message (feature names/count, dtypes) becomes a typed input error
            raise SchemaEnforcementError(f"The input does not fit the xgboost model: "
                                         f"{str(exc).strip().splitlines()[0]}", [str(exc)]) from None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._call("predict", data, params)

    def predict_proba(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if not hasattr(self.xgb_model, "predict_proba"):
            raise InvalidParameterError(f"{type(self.xgb_model).__name__} has no predict_proba")
        return self._call("predict_proba", data, params)


def _load_pyfunc(path: str, model_config: Any = None) -> _XGBPyfunc:
    from tureen.models.mlmodel import Model

    p = Path(path)
    root = p.parent if p.is_file() else p  # pyfunc 'data' names the model file itself
    conf = Model.load(root).get_flavor(FLAVOR_NAME)
    return _XGBPyfunc(_load_from_dir(root, conf))


def autolog(**kwargs: Any) -> None:
    """Turn on autologging for xgboost (arguments: see :mod:`tureen.autolog._xgboost`).

    Example:
        >>> autolog(log_input_examples=True)  # doctest: +SKIP
    """
    from tureen.autolog._xgboost import autolog as _autolog

    _autolog(**kwargs)
