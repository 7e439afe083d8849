"""What every framework integration shares: batched run logging with MLflow's client-side limits, input
examples and signatures, model logging, dataset records, and argument helpers."""

from __future__ import annotations

import copy
import inspect
import json
import time
from pathlib import Path
from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._patch import get_config, warn_once

INPUT_EXAMPLE_ROWS = 5
_MAX_KEY = 250
_MAX_PARAM = 6000
_MAX_TAG = 8000


def _truncate(text: str, limit: int) -> str:
    # MLflow's autologging client keeps the first limit-3 characters and appends "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _now() -> int:
    return int(time.time() * 1000)


class RunLogger:
    """Collects params, metrics and tags of one run and writes them in few ``log_batch`` calls.

    A param already logged with another value (a user run reused for a second fit) is reported once and
    dropped; the metrics and tags of the same batch are still written.
    """

    def __init__(self, flavor: str, run_id: str) -> None:
        from tureen.tracking import fluent

        self.flavor = flavor
        self.run_id = run_id
        self.client = fluent._client()
        self._params: dict[str, str] = {}
        self._metrics: list[Any] = []
        self._tags: dict[str, str] = {}

    def log_params(self, params: dict[str, Any]) -> None:
        for k, v in params.items():
            self._params.setdefault(_truncate(str(k), _MAX_KEY), _truncate(str(v), _MAX_PARAM))

    def set_tags(self, tags: dict[str, Any]) -> None:
        for k, v in tags.items():
            self._tags[_truncate(str(k), _MAX_KEY)] = _truncate(str(v), _MAX_TAG)

    def log_metrics(self, metrics: dict[str, Any], step: int = 0, model_id: str | None = None) -> None:
        from tureen.tracking.entities import Metric

        ts = _now()
        for k, v in metrics.items():
            try:
                value = float(v)
            except (TypeError, ValueError):
                continue
            self._metrics.append(Metric(_truncate(str(k), _MAX_KEY), value, ts, int(step or 0), model_id=model_id))

    def flush(self) -> None:
        params = list(self._params.items())
        metrics, tags = self._metrics, list(self._tags.items())
        self._params, self._metrics, self._tags = {}, [], {}
        if not (params or metrics or tags):
            return
        try:
            self.client.log_batch(self.run_id, metrics=metrics, params=params, tags=tags)
        except Exception as exc:  # noqa: BLE001
            if not params or getattr(exc, "error_code", None) != "INVALID_PARAMETER_VALUE":
                raise
            # most likely a param logged earlier in this (user) run with another value: keep the rest
            warn_once(self.flavor, f"some parameters were not logged: {exc}", key="param-conflict")
            self.client.log_batch(self.run_id, metrics=metrics, tags=tags)
            existing = self.client.get_run(self.run_id).data.params
            fresh = [(k, v) for k, v in params if k not in existing]
            if fresh:
                self.client.log_batch(self.run_id, params=fresh)


def fn_args_as_params(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                      unlogged: list[str]) -> dict[str, Any]:
    """The call's arguments by name (defaults included), minus ``unlogged`` — MLflow's rule for train()/fit()."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {k: v for k, v in kwargs.items() if k not in unlogged}
    out: dict[str, Any] = {}
    names = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in sig.parameters.values():
        if p.default is not p.empty and p.kind != p.VAR_KEYWORD:
            out[p.name] = p.default
    for p, value in zip(names, args):
        out[p.name] = value
    for k, v in kwargs.items():
        out[k] = v
    return {k: v for k, v in out.items() if k not in unlogged}


def arg_value(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], name: str,
              default: Any = None, *, skip_self: bool = False) -> Any:
    """The value passed for parameter ``name`` (by position or keyword)."""
    if name in kwargs:
        return kwargs[name]
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return default
    if skip_self and params and params[0] == "self":
        params = params[1:]
    if name in params:
        i = params.index(name)
        if i < len(args):
            return args[i]
    return default


def head(data: Any, n: int = INPUT_EXAMPLE_ROWS) -> Any:
    """A copy of the first ``n`` rows of array-like training input."""
    if hasattr(data, "iloc"):
        return data.iloc[:n].copy()
    if hasattr(data, "toarray") and hasattr(data, "shape"):  # scipy sparse
        return data[:n].toarray()
    return copy.deepcopy(data[:n])


EXAMPLE_ATTR = "_tureen_input_example"


def example_capturing_init(container: str) -> Callable[..., Any]:
    """A patched ``__init__`` for a boosting library's data container (xgboost ``DMatrix``, lightgbm
    ``Dataset``) that keeps the first rows of its data as the input example (or the reason there is none)
    under :data:`EXAMPLE_ATTR`, for the model logged after training."""

    def patched(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        data = args[0] if args else kwargs.get("data")
        example: Any = None
        if data is not None:
            try:
                if isinstance(data, (str, Path)):
                    raise ValueError(f"an input example cannot be taken from a {container} loaded from a file")
                example = head(data)
            except Exception as exc:  # noqa: BLE001
                example = exc
        result = original(self, *args, **kwargs)
        if data is not None:
            try:
                setattr(self, EXAMPLE_ATTR, example)
            except Exception:  # noqa: BLE001 - a subclass with __slots__
                pass
        return result

    return patched


def captured_example(container_obj: Any, container: str) -> Any:
    """The input example :func:`example_capturing_init` kept on a data container (raises why there is none)."""
    example = getattr(container_obj, EXAMPLE_ATTR, None)
    if isinstance(example, Exception):
        raise example
    if example is None:
        raise ValueError(f"the training {container} was created before autologging was turned on")
    return example


def begin_training(flavor: str, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   unlogged: Any) -> tuple[str, inspect.BoundArguments, RunLogger]:
    """The start of a patched ``train()`` of a boosting library: (run id, the call's bound arguments, a logger),
    with the call's ``params`` and other arguments (but ``unlogged``) logged already, less those an enclosing
    autologged call (a scikit-learn style ``fit``) logged itself."""
    run_id = _patch.active_run_id()
    session = _patch.current_session()
    already = (session.parent.data.get("logged_params", set())
               if session is not None and session.parent is not None else set())
    bound = inspect.signature(original).bind(*args, **kwargs)
    logger = RunLogger(flavor, run_id)
    params = dict(bound.arguments.get("params") or {})
    fn_params = fn_args_as_params(original, args, kwargs, unlogged)
    logger.log_params({k: v for k, v in {**params, **fn_params}.items() if k not in already})
    logger.flush()
    return run_id, bound, logger


def guarded(flavor: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator for framework callback hooks: a logging failure is reported once and never stops training."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a logging failure must not stop training
                warn_once(flavor, f"{fn.__name__} failed ({type(exc).__name__}: {exc})", key=fn.__name__)
        return run

    return decorate


def example_and_signature(flavor: str, get_example: Callable[[], Any], predict: Callable[[Any], Any] | None,
                          log_input_examples: bool, log_model_signatures: bool) -> tuple[Any, Any]:
    """(input_example or None, signature or None), each failure reported once and skipped."""
    example = signature = None
    if not (log_input_examples or log_model_signatures):
        return None, None
    try:
        sample = get_example()
    except Exception as exc:  # noqa: BLE001
        warn_once(flavor, f"could not take an input example from the training data ({exc})", key="example")
        return None, None
    if log_input_examples:
        example = sample
    if log_model_signatures and predict is not None:
        try:
            from tureen.models.signature import infer_signature

            output = predict(copy.deepcopy(sample))
            if hasattr(output, "numpy") and type(output).__module__.split(".")[0] in ("torch", "tensorflow"):
                output = output.detach().cpu().numpy() if hasattr(output, "detach") else output.numpy()
            signature = infer_signature(sample, output)
        except Exception as exc:  # noqa: BLE001
            warn_once(flavor, f"could not infer the model signature ({type(exc).__name__}: {exc})",
                      key="signature")
    return example, signature


def log_model(flavor: str, log_fn: Callable[..., Any], model: Any, *, name: str = "model", signature: Any = None,
              input_example: Any = None, **options: Any) -> Any:
    """Log a model with the flavor's ``log_model`` into the active run; registered when configured."""
    registered = get_config(flavor, "registered_model_name")
    kw: dict[str, Any] = dict(options)
    if signature is not None:
        kw["signature"] = signature
    if input_example is not None:
        kw["input_example"] = input_example
    return log_fn(model, name=name, registered_model_name=registered if name == "model" else None, **kw)


# ------------------------------------------------------------------------------------------------
# datasets (MLflow's dataset entity: name, digest, source, schema, profile)

DATASET_CONTEXT_TAG = "mlflow.data.context"
_MAX_DIGEST_ROWS = 10000
_INPUTS_UNSUPPORTED: set[int] = set()


def _md5(elements: list[Any]) -> str:
    import hashlib

    md5 = hashlib.md5(usedforsecurity=False)
    for e in elements:
        md5.update(e)
    return md5.hexdigest()[:8]


def _pandas_digest(df: Any) -> str:
    import numpy as np
    import pandas as pd

    trimmed = df.head(_MAX_DIGEST_ROWS)
    string_cols = trimmed.columns[(df.map(type) == str).all(axis=0)]
    numeric_cols = trimmed.select_dtypes(include=[np.number]).columns
    trimmed = trimmed[string_cols.union(numeric_cols)]
    return _md5([pd.util.hash_pandas_object(trimmed).values, np.int64(len(df))]
                + [str(c).encode() for c in df.columns])


def _numpy_digest(features: Any, targets: Any = None) -> str:
    import numpy as np
    import pandas as pd

    parts: list[Any] = []

    def add(array: Any) -> None:
        flat = array.flatten()[:_MAX_DIGEST_ROWS]
        try:
            parts.append(pd.util.hash_array(flat))
        except TypeError:
            parts.append(np.int64(flat.size))
        parts.extend(np.int64(x) for x in array.shape)

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for k in sorted(item):
                add(item[k])
        else:
            add(item)
    return _md5(parts)


def dataset_record(X: Any, y: Any = None, name: str | None = None) -> dict[str, Any] | None:
    """MLflow's dataset fields for training/eval data (pandas or numpy-like), or None for other inputs.

    Example:
        >>> dataset_record(np.zeros((3, 2)))["digest"]  # doctest: +SKIP
        'c5cd3c2d'
    """
    import numpy as np
    import pandas as pd

    from tureen.models.signature import infer_schema
    from tureen.tracking import fluent

    source = json.dumps({"tags": fluent._source_tags()})
    if hasattr(X, "toarray") and hasattr(X, "shape") and not isinstance(X, np.ndarray):
        X = X.toarray()
    if isinstance(X, pd.DataFrame):
        try:
            schema = json.dumps({"mlflow_colspec": infer_schema(X).to_dict()})
        except Exception:  # noqa: BLE001
            schema = None
        return {"name": name or "dataset", "digest": _pandas_digest(X), "source_type": "code", "source": source,
                "schema": schema, "profile": json.dumps({"num_rows": len(X), "num_elements": int(X.size)})}
    if isinstance(X, np.ndarray):
        if y is not None and hasattr(y, "toarray") and not isinstance(y, np.ndarray):
            y = y.toarray()
        if y is not None and not isinstance(y, np.ndarray):
            y = np.asarray(y)
        try:
            feats = infer_schema(X).to_json()
            targs = infer_schema(y).to_json() if y is not None else None
            schema = json.dumps({"mlflow_tensorspec": {"features": feats, "targets": targs}})
        except Exception:  # noqa: BLE001
            schema = None
        profile: dict[str, Any] = {"features_shape": list(X.shape), "features_size": int(X.size),
                                   "features_nbytes": int(X.nbytes)}
        if y is not None:
            profile.update(targets_shape=list(y.shape), targets_size=int(y.size), targets_nbytes=int(y.nbytes))
        return {"name": name or "dataset", "digest": _numpy_digest(X, y), "source_type": "code", "source": source,
                "schema": schema, "profile": json.dumps(profile)}
    return None


def log_dataset(flavor: str, run_id: str, X: Any, y: Any = None, *, context: str = "train",
                name: str | None = None) -> dict[str, Any] | None:
    """Record a dataset input of the run (``mlflow.data.context`` = ``context``) when the store keeps them.

    The record is computed either way (and returned); stores without dataset inputs skip writing it.
    """
    if not get_config(flavor, "log_datasets", True):
        return None
    try:
        record = dataset_record(X, y, name)
    except Exception as exc:  # noqa: BLE001
        warn_once(flavor, f"could not describe the {context} dataset ({type(exc).__name__}: {exc})",
                  key=f"dataset-{context}")
        return None
    if record is None:
        return None
    from tureen.tracking import fluent

    client = fluent._client()
    store = client._store
    writer = getattr(client, "log_inputs", None) or getattr(store, "log_inputs", None)
    if writer is None:
        _INPUTS_UNSUPPORTED.add(id(store))
        return record
    writer(run_id, datasets=[{"dataset": record, "tags": [{"key": DATASET_CONTEXT_TAG, "value": context}]}])
    return record
