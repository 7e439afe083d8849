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

import inspect
import os
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import class_path, resolve_data_file, suggest_flavor, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "MODEL_FORMATS", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json")
_READ_FORMATS = ("ubj", "json", "xgb", "deprecated")
PREDICT_FNS = ("predict", "predict_proba")


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


class XGBoostFlavor(Flavor):
    """XGBoost's own formats; MLflow's ``xgboost`` section and ``loader_module: mlflow.xgboost``."""

    name = FLAVOR_NAME
    loader_module = "mlflow.xgboost"
    packages = {"xgboost": "xgboost-cpu"}
    extra = "xgboost"
    # a single-threaded load leaves no OpenMP pool behind (see read), so forked workers can predict
    fork_safe = True
    autolog_module = "tureen.autolog._xgboost"

    def write(self, model: Any, root: Path, *, model_format: str = "ubj",
              pyfunc_predict_fn: str = "predict") -> Written:
        """Write an XGBoost model in XGBoost's own format.

        Args:
            model: an ``xgboost.Booster`` or a fitted ``XGBClassifier`` / ``XGBRegressor`` / ``XGBRanker``.
            model_format: ``"ubj"`` (default) or ``"json"``.
            pyfunc_predict_fn: ``"predict"`` (default) or ``"predict_proba"`` (classifiers): what pyfunc
                ``predict`` returns. MLflow's own pyfunc loader knows only ``predict``.

        Example:
            >>> import xgboost as xgb  # doctest: +SKIP
            >>> save_model(xgb.XGBClassifier(n_estimators=5).fit(X, y), "xgb_model", input_example=X[:5])  # doctest: +SKIP
        """
        xgb = _check_model(model)
        if model_format not in MODEL_FORMATS:
            raise InvalidParameterError(f"Unknown model_format {model_format!r}; choose one of "
                                        f"{', '.join(MODEL_FORMATS)}")
        if pyfunc_predict_fn not in PREDICT_FNS:
            raise InvalidParameterError(f"Unknown pyfunc_predict_fn {pyfunc_predict_fn!r}; choose one of "
                                        f"{', '.join(PREDICT_FNS)}")
        if pyfunc_predict_fn == "predict_proba" and not hasattr(model, "predict_proba"):
            raise InvalidParameterError(f"pyfunc_predict_fn='predict_proba' needs a classifier; "
                                        f"{type(model).__name__} has no predict_proba")
        file_name = f"model.{model_format}"
        reqs = get_default_pip_requirements()
        if isinstance(model, xgb.XGBModel):  # the wrappers import scikit-learn when rebuilt at load
            from tureen.env import pin

            reqs.append(pin("scikit-learn"))
        model.save_model(str(root / file_name))
        pyfunc: dict[str, Any] = {"data": file_name}
        if pyfunc_predict_fn != "predict":
            pyfunc["predict_fn"] = pyfunc_predict_fn
        return Written(conf={"xgb_version": xgb.__version__, "data": file_name, "model_class": class_path(model),
                             "model_format": model_format, "code": None},
                       pyfunc=pyfunc, predict=getattr(_XGBPyfunc(model), pyfunc_predict_fn), requirements=reqs)

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        return _load_from_dir(root, conf)

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        return _XGBPyfunc(raw)


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


class _XGBPyfunc(Predictor):
    """pyfunc implementation: ``predict`` (and ``predict_proba`` for classifiers) with feature validation."""

    predict_fns = PREDICT_FNS

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.xgb_model = model

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

    def block_predictor(self, names: list[str], method: str = "predict") -> Any:
        """The serving fast path: a 2-D numeric array of ``names`` in order, scored without the DataFrame.

        xgboost reads a numeric DataFrame as exactly that array; the only thing the frame adds is its feature
        names, which are checked here once instead: the model must have been trained on ``names`` in this
        order, with no categorical features. A Booster gets a DMatrix carrying those names.
        """
        if method not in ("predict", "predict_proba"):
            return None
        xgb = _xgb()
        model = self.xgb_model
        try:
            booster = model if isinstance(model, xgb.Booster) else model.get_booster()
            fitted = booster.feature_names
            types = booster.feature_types
        except Exception:  # noqa: BLE001 - unfitted or unusual: keep the DataFrame path
            return None
        if fitted is None or [str(n) for n in fitted] != [str(n) for n in names]:
            return None
        if types is not None and any(t == "c" for t in types):
            return None
        if isinstance(model, xgb.Booster):
            if method != "predict":
                return None
            def score(block: Any) -> Any:
                try:
                    matrix = xgb.DMatrix(block, feature_names=list(fitted), feature_types=types)
                    return model.predict(matrix, validate_features=True)
                except (ValueError, TypeError, xgb.core.XGBoostError) as exc:
                    raise SchemaEnforcementError(f"The input does not fit the xgboost model: "
                                                 f"{str(exc).strip().splitlines()[0]}", [str(exc)]) from None
            return score
        if not hasattr(model, method):
            return None
        return lambda block: self._call(method, block, None)

    def predict_proba(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if not hasattr(self.xgb_model, "predict_proba"):
            raise InvalidParameterError(f"{type(self.xgb_model).__name__} has no predict_proba")
        return self._call("predict_proba", data, params)


FLAVOR = XGBoostFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog
