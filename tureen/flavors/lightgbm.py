"""The LightGBM flavor: ``lightgbm.Booster`` and the scikit-learn wrappers, saved without pickle by default.

* ``lightgbm.Booster``: LightGBM's native text model file ``model.lgb``.
* ``LGBMClassifier`` / ``LGBMRegressor`` / ``LGBMRanker``: ``model.skops`` (skops: JSON + ``.npy`` members,
  no code runs at load) whenever the estimator round-trips with skops; otherwise, or when asked with
  ``serialization_format="cloudpickle"``/``"pickle"``, ``model.pkl``, which loads only through the unsafe gate.

At load, the LightGBM classes themselves (and ``collections.OrderedDict``) are trusted by this module's code;
any other type inside a skops file needs the caller's permission (``allow_pickle``), never the file's.

The MLmodel sections are MLflow's (``loader_module: mlflow.lightgbm``), so MLflow 3.x loads these models
without tureen, and tureen loads MLflow's LightGBM models without MLflow.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import (class_path, dump_pickled, resolve_data_file, suggest_flavor, unsafe_load,
                                 warn_version_mismatch)
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "SERIALIZATION_FORMATS", "save_model", "log_model", "load_model",
           "get_default_pip_requirements"]

FLAVOR_NAME = "lightgbm"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
BOOSTER_CLASS = "lightgbm.basic.Booster"
BOOSTER_FILE = "model.lgb"
_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl", "pickle": "model.pkl"}
#: types of a LightGBM estimator that this module trusts inside a skops file (MLflow writes the first four)
SAFE_SKOPS_TYPES = frozenset({"collections.OrderedDict", "lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier",
                              "lightgbm.sklearn.LGBMRegressor", "lightgbm.sklearn.LGBMRanker"})


def get_default_pip_requirements(serialization_format: str | None = None) -> list[str]:
    """``lightgbm==<installed>``, plus skops or cloudpickle when the estimator is stored with them.

    Example:
        >>> get_default_pip_requirements("skops")[0].startswith("lightgbm")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    reqs = [pin("lightgbm")]
    if serialization_format == "skops":
        reqs.append(pin("skops"))
    elif serialization_format == "cloudpickle":
        reqs.append(pin("cloudpickle"))
    return reqs


def _lgb() -> Any:
    from tureen._optional import import_optional

    return import_optional("lightgbm", "the lightgbm flavor")


def _check_model(model: Any) -> Any:
    lgb = _lgb()
    if isinstance(model, type):
        raise UnsupportedModelError(f"save_model needs a trained model instance, got the class {model.__name__}")
    if not isinstance(model, (lgb.Booster, lgb.LGBMModel)):
        raise UnsupportedModelError(
            f"The lightgbm flavor saves lightgbm.Booster and the scikit-learn wrappers (LGBMClassifier, "
            f"LGBMRegressor, LGBMRanker); got {class_path(model)}." + suggest_flavor(model))
    if isinstance(model, lgb.LGBMModel) and not getattr(model, "fitted_", False):
        raise UnsupportedModelError(f"The {type(model).__name__} is not fitted yet: call fit() before saving it")
    return lgb


class LightGBMFlavor(Flavor):
    """LightGBM's text model file for Boosters, skops for the scikit-learn wrappers; MLflow's ``lightgbm``."""

    name = FLAVOR_NAME
    loader_module = "mlflow.lightgbm"
    packages = {"lightgbm": "lightgbm"}
    extra = "lightgbm"
    system_packages = ("libgomp1",)  # the OpenMP runtime LightGBM links
    #: LightGBM's OpenMP pool, created while loading, deadlocks in forked children: servers load per worker
    fork_safe = False
    autolog_module = "tureen.autolog._lightgbm"

    def write(self, model: Any, root: Path, *, serialization_format: str | None = None,
              skops_trusted_types: list[str] | None = None) -> Written:
        """Write a LightGBM model.

        Args:
            model: a ``lightgbm.Booster`` or a fitted ``LGBMClassifier`` / ``LGBMRegressor`` / ``LGBMRanker``.
            serialization_format: for the scikit-learn wrappers only: ``"skops"`` (default when the estimator
                round-trips with skops; otherwise ``"cloudpickle"``, with a warning), ``"cloudpickle"`` or
                ``"pickle"``. Boosters are always saved as LightGBM's text model file.
            skops_trusted_types: further types (beyond LightGBM's own) you trust inside the skops file.

        Example:
            >>> import lightgbm as lgb  # doctest: +SKIP
            >>> save_model(lgb.LGBMRegressor(n_estimators=5).fit(X, y), "lgb_model", input_example=X[:5])  # doctest: +SKIP
        """
        lgb_model = model
        lgb = _check_model(lgb_model)
        if serialization_format is not None and serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidParameterError(f"Unknown serialization_format {serialization_format!r}; choose one of "
                                        f"{', '.join(SERIALIZATION_FORMATS)}")
        conf, fmt = _write_data(lgb, lgb_model, root, serialization_format, skops_trusted_types)
        return Written(conf=conf, pyfunc={"data": conf["data"]}, predict=_LGBPyfunc(lgb_model).predict,
                       requirements=get_default_pip_requirements(fmt))

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        return _load_from_dir(root, conf, allow_pickle)

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        return _LGBPyfunc(raw)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        if (conf.get("model_class") or BOOSTER_CLASS) == BOOSTER_CLASS:
            return False
        if (conf.get("serialization_format") or "cloudpickle") != "skops":
            return True
        try:
            from tureen.flavors._skops import import_skops_io

            return bool(set(import_skops_io().get_untrusted_types(file=Path(root) / conf.get("data", "model.skops")))
                        - SAFE_SKOPS_TYPES)
        except Exception:  # noqa: BLE001 - a corrupt file is reported by verify/load, not here
            return True


def _write_data(lgb: Any, lgb_model: Any, root: Path, serialization_format: str | None,
                skops_trusted_types: list[str] | None) -> tuple[dict[str, Any], str | None]:
    """Write the model file; return the flavor section and the format chosen."""
    fmt = serialization_format
    trusted: list[str] | None = None
    if isinstance(lgb_model, lgb.Booster):
        lgb_model.save_model(str(root / BOOSTER_FILE))
        return ({"lgb_version": lgb.__version__, "data": BOOSTER_FILE, "model_class": BOOSTER_CLASS,
                 "code": None, "serialization_format": None, "skops_trusted_types": None}, None)
    if fmt in (None, "skops"):
        from tureen.flavors._skops import import_skops_io

        sio = import_skops_io()
        file = root / _FILES["skops"]
        sio.dump(lgb_model, file)
        untrusted = set(sio.get_untrusted_types(file=file))
        not_allowed = sorted(untrusted - SAFE_SKOPS_TYPES - set(skops_trusted_types or []))
        if not not_allowed:
            fmt = "skops"
            # MLflow loads with exactly this list: it must cover every type in the file
            trusted = sorted(untrusted | (SAFE_SKOPS_TYPES - {"lightgbm.sklearn.LGBMRanker"}))
        else:
            file.unlink()
            if fmt == "skops":
                raise InvalidParameterError(
                    f"skops cannot save this {type(lgb_model).__name__} with trusted types only; untrusted: "
                    f"{not_allowed}. Pass skops_trusted_types=[...] if you trust them, or use "
                    "serialization_format='cloudpickle'")
            warnings.warn(f"{type(lgb_model).__name__} does not round-trip with skops' trusted types "
                          f"({', '.join(not_allowed)}); saving with cloudpickle instead, which needs pickle "
                          "loading", UserWarning, stacklevel=6)
            fmt = "cloudpickle"
    if fmt in ("cloudpickle", "pickle"):
        dump_pickled(lgb_model, root / _FILES[fmt], fmt)
    return ({"lgb_version": lgb.__version__, "data": _FILES[fmt], "model_class": class_path(lgb_model),
             "code": None, "serialization_format": fmt, "skops_trusted_types": trusted}, fmt)


def _read_skops(file: Path, allow_pickle: bool | None) -> Any:
    from tureen.flavors._gate import check_zip
    from tureen.flavors._skops import import_skops_io

    check_zip(file)  # a skops file is a zip: bound it before skops opens a member
    sio = import_skops_io()
    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:  # noqa: BLE001 - skops raises many types on a corrupt archive
        raise ModelFormatError(f"The skops file {file.name} is corrupt: {exc}") from exc
    extra = sorted(set(untrusted) - SAFE_SKOPS_TYPES)

    def load() -> Any:
        try:
            return sio.load(file, trusted=list(untrusted))
        except Exception as exc:  # noqa: BLE001
            raise ModelFormatError(f"The skops file {file.name} cannot be loaded: {exc}") from exc

    if extra:
        # types outside LightGBM's own are trusted only by the caller, never by the list the file carries
        return unsafe_load(load, what=f"skops model {file.name} with types outside LightGBM's "
                                      f"({', '.join(extra)})", allow_pickle=allow_pickle)
    return load()


def _read_pickle(file: Path, fmt: str, allow_pickle: bool | None) -> Any:
    def load() -> Any:
        try:
            with open(file, "rb") as f:
                return pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
            raise ModelFormatError(f"The pickled model {file.name} cannot be loaded: "
                                   f"{type(exc).__name__}: {exc}") from exc

    return unsafe_load(load, what=f"LightGBM model {file.name} ({fmt})", allow_pickle=allow_pickle)


def _load_from_dir(root: Path, conf: dict[str, Any], allow_pickle: bool | None) -> Any:
    lgb = _lgb()
    warn_version_mismatch("lightgbm", conf.get("lgb_version"), lgb.__version__)
    file = resolve_data_file(root, conf.get("data"), "lightgbm model")
    if (conf.get("model_class") or BOOSTER_CLASS) == BOOSTER_CLASS:
        try:
            return lgb.Booster(model_file=str(file))
        except lgb.basic.LightGBMError as exc:
            raise ModelFormatError(f"The LightGBM model file {file.name} cannot be loaded: {exc}") from exc
    # models saved before MLflow 3.9 carry no format key: they are cloudpickle files
    fmt = conf.get("serialization_format") or "cloudpickle"
    if fmt == "skops":
        return _read_skops(file, allow_pickle)
    if fmt in ("cloudpickle", "pickle"):
        return _read_pickle(file, fmt, allow_pickle)
    raise ModelFormatError(f"Unknown lightgbm serialization_format {fmt!r} in MLmodel")


class _LGBPyfunc(Predictor):
    """pyfunc implementation: the model's ``predict``, with input errors reported as typed errors."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.lgb_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        lgb = _lgb()
        try:
            return self.lgb_model.predict(data)
        except (ValueError, TypeError, lgb.basic.LightGBMError) as exc:
            raise SchemaEnforcementError(f"The input does not fit the lightgbm model: "
                                         f"{str(exc).strip().splitlines()[0]}", [str(exc)]) from None

    def block_predictor(self, names: list[str], method: str = "predict") -> Any:
        """The serving fast path: a 2-D numeric array of ``names`` in order goes to ``predict`` directly.

        LightGBM turns a DataFrame of numeric columns into exactly that array (by position; it does not
        reorder by name), so the answer is the same, as long as the model was trained on these names in this
        order and has no pandas categorical columns (those are recoded from the DataFrame's categories).
        """
        if method != "predict":
            return None
        model = self.lgb_model
        booster = getattr(model, "booster_", model)
        try:
            fitted = list(booster.feature_name())
            categorical = getattr(booster, "pandas_categorical", None)
        except Exception:  # noqa: BLE001 - an unfitted or unusual model keeps the DataFrame path
            return None
        # LightGBM stores feature names with spaces turned into underscores
        if categorical or [str(n) for n in fitted] != [str(n).replace(" ", "_") for n in names]:
            return None
        if hasattr(model, "booster_"):  # scikit-learn wrapper: it would warn about the unnamed array
            import warnings

            def score(block: Any) -> Any:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="X does not have valid feature names")
                    return self.predict(block)
            return score
        return lambda block: self.predict(block)


FLAVOR = LightGBMFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog
