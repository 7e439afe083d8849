"""The scikit-learn flavor: estimators and pipelines, saved with skops by default (no pickle).

``serialization_format``:

* ``skops`` (default whenever the estimator round-trips with skops' trusted types): a zip of JSON and
  ``.npy`` members, loaded without running arbitrary code;
* ``cloudpickle`` / ``pickle``: any estimator, loaded only when the unsafe gate allows it.

The MLmodel sections are MLflow's (``loader_module: mlflow.sklearn``), so MLflow 3.x loads these models
without tureen, and tureen loads MLflow's sklearn models without MLflow.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, UnsupportedModelError
from tureen.flavors._base import dump_pickled, resolve_data_file, suggest_flavor, unsafe_load
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements",
           "SERIALIZATION_FORMATS", "PREDICT_FNS"]

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
SERIALIZATION_FORMAT_SKOPS, SERIALIZATION_FORMAT_CLOUDPICKLE, SERIALIZATION_FORMAT_PICKLE = SERIALIZATION_FORMATS
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")
_FILES = {"skops": "model.skops", "cloudpickle": "model.pkl", "pickle": "model.pkl"}


def get_default_pip_requirements(serialization_format: str = "skops") -> list[str]:
    reqs = ["scikit-learn"]
    if serialization_format == "skops":
        reqs.append("skops")
    elif serialization_format == "cloudpickle":
        reqs.append("cloudpickle")
    return reqs


def _check_estimator(model: Any) -> None:
    from tureen._optional import import_optional

    import_optional("sklearn", "the sklearn flavor")
    if isinstance(model, type):
        raise UnsupportedModelError(f"save_model needs a fitted estimator instance, got the class {model.__name__}")
    if not (hasattr(model, "fit") and hasattr(model, "get_params")):
        hint = suggest_flavor(model)
        raise UnsupportedModelError(f"The sklearn flavor saves scikit-learn estimators (objects with fit and "
                                    f"get_params); got {type(model).__module__}.{type(model).__qualname__}."
                                    + hint)


def _dump_skops(model: Any, file: Path, trusted: list[str] | None) -> list[str] | None:
    """Dump with skops; return the extra trusted types needed (None when skops' defaults suffice)."""
    from tureen.flavors._skops import import_skops_io

    sio = import_skops_io()
    sio.dump(model, file)
    untrusted = sio.get_untrusted_types(file=file)
    if not untrusted:
        return None
    not_allowed = sorted(set(untrusted) - set(trusted or []))
    if not_allowed:
        raise _NeedsPickle(not_allowed)
    return sorted(untrusted)


class _NeedsPickle(Exception):
    def __init__(self, types: list[str]) -> None:
        super().__init__(types)
        self.types = types


class SklearnFlavor(Flavor):
    """scikit-learn estimators with skops by default; MLflow's ``sklearn`` section and loader."""

    name = FLAVOR_NAME
    loader_module = "mlflow.sklearn"
    packages = {"sklearn": "scikit-learn", "skops": "skops"}
    extra = "sklearn"
    autolog_module = "tureen.autolog._sklearn"

    def write(self, model: Any, root: Path, *, serialization_format: str | None = None,
              pyfunc_predict_fn: str = "predict", skops_trusted_types: list[str] | None = None) -> Written:
        """Write a scikit-learn estimator.

        Args:
            model: a fitted estimator or pipeline.
            serialization_format: ``"skops"`` (default when the estimator round-trips with skops' trusted
                types; otherwise ``"cloudpickle"``, with a warning), ``"cloudpickle"`` or ``"pickle"``.
            pyfunc_predict_fn: the estimator method pyfunc ``predict`` calls.
            skops_trusted_types: extra types you trust for skops (types outside skops' safe defaults).

        Example:
            >>> from sklearn.linear_model import LogisticRegression  # doctest: +SKIP
            >>> save_model(LogisticRegression().fit([[0], [1]], [0, 1]), "churn_model")  # doctest: +SKIP
        """
        sk_model = model
        _check_estimator(sk_model)
        if serialization_format is not None and serialization_format not in SERIALIZATION_FORMATS:
            raise InvalidParameterError(f"Unknown serialization_format {serialization_format!r}; "
                                        f"choose one of {', '.join(SERIALIZATION_FORMATS)}")
        if pyfunc_predict_fn not in PREDICT_FNS:
            raise InvalidParameterError(f"Unknown pyfunc_predict_fn {pyfunc_predict_fn!r}; "
                                        f"choose one of {', '.join(PREDICT_FNS)}")
        has_predict_fn = hasattr(sk_model, pyfunc_predict_fn)
        if not has_predict_fn and pyfunc_predict_fn != "predict":
            raise InvalidParameterError(f"The estimator {type(sk_model).__name__} has no method {pyfunc_predict_fn!r}")
        if not has_predict_fn:
            warnings.warn(f"{type(sk_model).__name__} has no predict method: the model is saved without the "
                          "python_function flavor (pyfunc cannot load it)", UserWarning, stacklevel=4)
        import sklearn

        fmt = serialization_format
        trusted = None
        if fmt in (None, "skops"):
            try:
                trusted = _dump_skops(sk_model, root / _FILES["skops"], skops_trusted_types)
                fmt = "skops"
            except _NeedsPickle as exc:
                (root / _FILES["skops"]).unlink(missing_ok=True)
                if fmt == "skops":
                    raise InvalidParameterError(
                        f"skops cannot save {type(sk_model).__name__} with only trusted types; untrusted: "
                        f"{exc.types}. Pass skops_trusted_types=[...] if you trust them, or use "
                        "serialization_format='cloudpickle'") from None
                warnings.warn(f"{type(sk_model).__name__} does not round-trip with skops' trusted types "
                              f"({', '.join(exc.types)}); saving with cloudpickle instead, which needs "
                              "pickle loading", UserWarning, stacklevel=6)
                fmt = "cloudpickle"
        if fmt in ("cloudpickle", "pickle"):
            dump_pickled(sk_model, root / _FILES[fmt], fmt)
        conf = {"pickled_model": _FILES[fmt], "sklearn_version": sklearn.__version__,
                "serialization_format": fmt, "code": None, "skops_trusted_types": trusted}
        pyfunc = {"model_path": conf["pickled_model"], "predict_fn": pyfunc_predict_fn} if has_predict_fn else None
        return Written(conf=conf, pyfunc=pyfunc,
                       predict=getattr(sk_model, pyfunc_predict_fn) if has_predict_fn else None,
                       requirements=get_default_pip_requirements(fmt), requirement_objects=[sk_model])

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        return _load_from_dir(root, conf, allow_pickle)

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        return _SklearnPyfunc(raw)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        fmt = conf.get("serialization_format") or "pickle"
        if fmt != "skops":
            return True
        try:
            from tureen.flavors._skops import import_skops_io

            return bool(import_skops_io().get_untrusted_types(file=Path(root) / conf.get("pickled_model", "model.skops")))
        except Exception:  # noqa: BLE001 - a corrupt file is reported by verify/load, not here
            return True


def _read(file: Path, fmt: str, trusted: Any, allow_pickle: bool | None) -> Any:
    if fmt == "skops":
        from tureen.flavors._gate import check_zip
        from tureen.flavors._skops import import_skops_io

        check_zip(file)  # a skops file is a zip: bound it before skops opens a member
        sio = import_skops_io()
        try:
            untrusted = sio.get_untrusted_types(file=file)
        except Exception as exc:  # noqa: BLE001 - skops raises many types on a corrupt archive
            raise ModelFormatError(f"The skops file {file.name} is corrupt: {exc}") from exc
        if untrusted:
            # Extra types are decided by the caller's trust, never by the list the artifact carries.
            return unsafe_load(lambda: sio.load(file, trusted=untrusted),
                               what=f"skops model {file.name} with types outside skops' safe set "
                                    f"({', '.join(untrusted)})", allow_pickle=allow_pickle)
        try:
            return sio.load(file, trusted=[])
        except Exception as exc:  # noqa: BLE001
            raise ModelFormatError(f"The skops file {file.name} cannot be loaded: {exc}") from exc
    if fmt in ("cloudpickle", "pickle"):
        def load() -> Any:
            try:
                with open(file, "rb") as f:
                    return pickle.load(f)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
                raise ModelFormatError(f"The pickled model {file.name} cannot be loaded: "
                                       f"{type(exc).__name__}: {exc}") from exc

        return unsafe_load(load, what=f"sklearn model {file.name} ({fmt})", allow_pickle=allow_pickle)
    raise ModelFormatError(f"Unknown sklearn serialization_format {fmt!r} in MLmodel")


def _load_from_dir(root: Path, conf: dict[str, Any], allow_pickle: bool | None) -> Any:
    import sklearn

    from tureen.flavors._base import warn_version_mismatch

    warn_version_mismatch("scikit-learn", conf.get("sklearn_version"), sklearn.__version__)
    file = resolve_data_file(root, conf.get("pickled_model"), "sklearn model")
    return _read(file, conf.get("serialization_format") or "pickle", conf.get("skops_trusted_types"),
                 allow_pickle)


class _SklearnPyfunc(Predictor):
    """pyfunc implementation: exposes the estimator's prediction methods."""

    predict_fns = PREDICT_FNS

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.sklearn_model = model

    def __getattr__(self, name: str) -> Any:
        if name in PREDICT_FNS:
            method = getattr(self.sklearn_model, name)
            return lambda data, params=None: _typed_input_errors(method, data)
        raise AttributeError(name)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return _typed_input_errors(self.sklearn_model.predict, data)

    def block_predictor(self, names: list[str], method: str = "predict") -> Any:
        """A function scoring a 2-D array whose columns are ``names`` in order, or None when that could
        answer differently from scoring the same values as a DataFrame.

        scikit-learn spends most of a small predict checking a DataFrame (feature names, per-column dtypes);
        the array behind a one-dtype frame is exactly what it would extract. So the scoring server passes
        that array when every estimator in the tree is scikit-learn's own, none selects columns by name or
        runs user code on the frame (ColumnTransformer, FunctionTransformer), none is set to output
        DataFrames, and the names the model was fitted with are ``names`` in this order.
        """
        est = self.sklearn_model
        if method not in PREDICT_FNS or method == "score" or not _array_equivalent(est):
            return None
        try:
            fitted = getattr(est, "feature_names_in_", None)
            width = getattr(est, "n_features_in_", None)
        except Exception:  # noqa: BLE001 - a property that cannot answer: keep the DataFrame path
            return None
        if fitted is not None and [str(n) for n in fitted] != [str(n) for n in names]:
            return None
        if width is not None and int(width) != len(names):
            return None
        fn = getattr(est, method, None)
        if fn is None:
            return None
        _quiet_unnamed_input_warning()
        return lambda block: _typed_input_errors(fn, block)


def _typed_input_errors(method: Any, data: Any) -> Any:
    """scikit-learn reports unfit input (wrong feature count or names, unparsable values) as ValueError or
    TypeError; for a model without a signature that is the only check, so make it the typed schema error."""
    try:
        return method(data)
    except (ValueError, TypeError) as exc:
        from tureen.exceptions import SchemaEnforcementError

        raise SchemaEnforcementError(f"The input does not fit the sklearn model: {exc}", [str(exc)]) from None


#: scikit-learn classes whose answer can depend on the input being a DataFrame
_NAME_DEPENDENT = frozenset({"ColumnTransformer", "FunctionTransformer"})


def _array_equivalent(est: Any, depth: int = 0) -> bool:
    """Whether ``est`` and every estimator inside it treat a one-dtype DataFrame and its array alike."""
    cls = type(est)
    if depth > 20 or not cls.__module__.startswith("sklearn.") or cls.__name__ in _NAME_DEPENDENT:
        return False
    config = getattr(est, "_sklearn_output_config", None) or {}
    if any(v not in (None, "default") for v in config.values() if not callable(v)):
        return False
    try:
        params = est.get_params(deep=False)
    except Exception:  # noqa: BLE001
        return False
    values = list(params.values())
    for attr in ("estimators_", "best_estimator_", "regressor_", "estimator_", "base_estimator_"):
        got = getattr(est, attr, None)  # fitted copies of the estimators named in the params
        if got is not None:
            values.append(got)
    while values:
        v = values.pop()
        if isinstance(v, (list, tuple)):
            values.extend(v)
        elif isinstance(v, dict):
            values.extend(v.values())
        elif hasattr(v, "get_params") and hasattr(v, "fit") and not isinstance(v, type):
            if not _array_equivalent(v, depth + 1):
                return False
    return True


def _quiet_unnamed_input_warning() -> None:
    """Silence scikit-learn's 'X does not have valid feature names': the block path has already matched the
    names the model was fitted with. (Adding the same filter again replaces it, so this is idempotent.)"""
    warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)


FLAVOR = SklearnFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog
