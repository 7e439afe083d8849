"""Validation of names, keys and values, with MLflow's length and character rules.

Every check raises :class:`~tureen.exceptions.InvalidParameterError` naming the parameter and the rule it
broke; nothing is written before all checks of a call have passed.
"""

from __future__ import annotations

import numbers
import posixpath
import re
import warnings
from typing import Any

from tureen.exceptions import InvalidParameterError

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_REGISTRY_TAG_VALUE_LENGTH = 100000
MAX_ALIAS_LENGTH = 255
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
MAX_BATCH_TOTAL = 1000
MAX_RUN_NAME_LENGTH = 250

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_RESERVED_ALIAS_RE = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


#: keys found valid (validity does not depend on what the key names): a batch of 500 metrics repeats the
#: same keys step after step, and the checks below are most of the cost of logging a point
_VALID_KEYS: set[str] = set()
_VALID_KEYS_MAX = 100_000


def validate_key(key: Any, what: str = "key") -> str:
    """A metric/param/tag key: characters ``[/\\w.\\- :]``, at most 250, and path-safe.

    Example:
        >>> validate_key("train/loss")
        'train/loss'
    """
    if key.__class__ is str and key in _VALID_KEYS:
        return key
    if not isinstance(key, str):
        raise InvalidParameterError(f"Invalid {what} {key!r}: it must be a string, got {type(key).__name__}")
    if not key:
        raise InvalidParameterError(f"Invalid {what} '': it must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(f"Invalid {what} {key[:40]!r}…: {len(key)} characters, at most "
                                    f"{MAX_KEY_LENGTH} are allowed")
    if not _KEY_RE.match(key):
        raise InvalidParameterError(f"Invalid {what} {key!r}: only letters, digits, underscores (_), dashes "
                                    "(-), periods (.), spaces ( ), colons (:) and slashes (/) are allowed")
    norm = posixpath.normpath(key)
    if norm != key or key.startswith("/") or norm == ".." or norm.startswith("../"):
        raise InvalidParameterError(f"Invalid {what} {key!r}: names may be used as file paths and must not "
                                    f"resolve to another path (this one would resolve to {norm!r})")
    if key.__class__ is str:  # not a str subclass, whose == or hash could say anything
        if len(_VALID_KEYS) >= _VALID_KEYS_MAX:
            _VALID_KEYS.clear()
        _VALID_KEYS.add(key)
    return key


def _truncate(value: str, limit: int, what: str, key: str) -> str:
    if len(value) > limit:
        warnings.warn(f"The value of {what} {key!r} is {len(value)} characters long; it was truncated to "
                      f"{limit} (MLflow's limit)", stacklevel=4)
        return value[:limit]
    return value


def validate_param(key: Any, value: Any) -> tuple[str, str]:
    validate_key(key, "param key")
    return key, _truncate(str(value), MAX_PARAM_VALUE_LENGTH, "param", key)


def validate_tag(key: Any, value: Any) -> tuple[str, str]:
    validate_key(key, "tag key")
    return key, _truncate(str(value), MAX_TAG_VALUE_LENGTH, "tag", key)


#: MLflow's SQL store clamps infinities to the largest double
_DOUBLE_MAX = 1.7976931348623157e308
_INFS = (float("inf"), float("-inf"))


def validate_metric(key: Any, value: Any, timestamp: Any, step: Any) -> tuple[str, float, bool, int, int]:
    """Check one metric point; return ``(key, stored_value, is_nan, timestamp, step)``.

    NaN is stored as 0 with ``is_nan`` set, ±inf as ±1.7976931348623157e308, as MLflow's SQL store does.

    Example:
        >>> validate_metric("auc", float("inf"), 1, 0)[1]
        1.7976931348623157e+308
    """
    validate_key(key, "metric key")
    vt = value.__class__
    if (vt is float or vt is int) and timestamp.__class__ is int and timestamp >= 0 and step.__class__ is int:
        # the usual point (exact builtin types, as JSON and Python give them): float() inline, the hot path
        try:
            fvalue = float(value)
        except OverflowError:
            fvalue = _as_double(key, value)  # raises its typed error
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            raise InvalidParameterError(f"Invalid value {value!r} for metric {key!r}: it must be a number "
                                        f"(got {type(value).__name__})")
        fvalue = _as_double(key, value)  # a value that is no real number is named before the timestamp
        if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral) or timestamp < 0:
            raise InvalidParameterError(f"Invalid timestamp {timestamp!r} for metric {key!r}: it must be a "
                                        "non-negative integer (milliseconds since the epoch)")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise InvalidParameterError(f"Invalid step {step!r} for metric {key!r}: it must be an integer")
        timestamp, step = int(timestamp), int(step)
    if fvalue != fvalue:
        return key, 0.0, True, timestamp, step
    if fvalue in _INFS:
        fvalue = _DOUBLE_MAX if fvalue > 0 else -_DOUBLE_MAX
    return key, fvalue, False, timestamp, step


def _as_double(key: str, value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        raise InvalidParameterError(f"Invalid value for metric {key!r}: a {type(value).__name__} too large for "
                                    "a double") from None
    except (TypeError, ValueError):
        raise InvalidParameterError(f"Invalid value {value!r} for metric {key!r}: it must be a real number") \
            from None


def validate_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidParameterError(f"Invalid run id {run_id!r}: a run id is 1-256 letters, digits, '_' or '-' "
                                    "and starts with a letter or digit")
    return run_id


def validate_experiment_name(name: Any) -> str:
    if not isinstance(name, str):
        raise InvalidParameterError(f"Invalid experiment name {name!r}: it must be a string")
    if not name.strip():
        raise InvalidParameterError("Invalid experiment name '': it must not be empty")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterError(f"Invalid experiment name: {len(name)} characters, at most "
                                    f"{MAX_EXPERIMENT_NAME_LENGTH} are allowed")
    return name


def _bounded_tag(key: Any, value: Any, what: str, limit: int) -> tuple[str, str]:
    """A valid key and its value as text (None -> ""), refused when longer than ``limit`` (no truncation)."""
    validate_key(key, f"{what.lower()} key")
    value = "" if value is None else str(value)
    if len(value) > limit:
        raise InvalidParameterError(f"{what} {key!r} has a value of {len(value)} characters; at most {limit} are "
                                    "allowed")
    return key, value


def validate_experiment_tag(key: Any, value: Any) -> tuple[str, str]:
    return _bounded_tag(key, value, "Experiment tag", MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def validate_run_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidParameterError(f"Invalid run name {name!r}: it must be a string")
    if len(name) > MAX_RUN_NAME_LENGTH:
        raise InvalidParameterError(f"Invalid run name: {len(name)} characters, at most {MAX_RUN_NAME_LENGTH}")
    return name


def validate_batch_sizes(n_metrics: int, n_params: int, n_tags: int) -> None:
    problems = []
    if n_metrics > MAX_BATCH_METRICS:
        problems.append(f"{n_metrics} metrics (at most {MAX_BATCH_METRICS})")
    if n_params > MAX_BATCH_PARAMS:
        problems.append(f"{n_params} params (at most {MAX_BATCH_PARAMS})")
    if n_tags > MAX_BATCH_TAGS:
        problems.append(f"{n_tags} tags (at most {MAX_BATCH_TAGS})")
    if n_metrics + n_params + n_tags > MAX_BATCH_TOTAL:
        problems.append(f"{n_metrics + n_params + n_tags} entities in total (at most {MAX_BATCH_TOTAL})")
    if problems:
        raise InvalidParameterError("A batch logging request can contain at most 1000 metrics, 100 params, "
                                    "100 tags and 1000 entities in total; this one has " + ", ".join(problems))


# -- dataset inputs ---------------------------------------------------------------------------------------

MAX_DATASETS_PER_CALL = 1000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_TYPE_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500

_DATASET_LIMITS = (("name", MAX_DATASET_NAME_LENGTH, True), ("digest", MAX_DATASET_DIGEST_LENGTH, True),
                   ("source_type", MAX_DATASET_SOURCE_TYPE_LENGTH, True), ("source", MAX_DATASET_SOURCE_LENGTH, True),
                   ("schema", MAX_DATASET_SCHEMA_LENGTH, False), ("profile", MAX_DATASET_PROFILE_LENGTH, False))


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _dataset_text(value: Any, where: str, limit: int, required: bool) -> str | None:
    import json

    if value is None:
        if required:
            raise InvalidParameterError(f"Invalid dataset input: {where} is missing")
        return None
    if isinstance(value, (dict, list)):  # source, schema and profile are JSON documents
        value = json.dumps(value)
    if not isinstance(value, str):
        raise InvalidParameterError(f"Invalid dataset input: {where} must be a string, got {type(value).__name__}")
    if required and not value and not where.endswith(".source"):
        raise InvalidParameterError(f"Invalid dataset input: {where} must not be empty")
    if len(value) > limit:
        raise InvalidParameterError(f"Invalid dataset input: {where} is {len(value)} characters long, at most "
                                    f"{limit} are allowed")
    return value


def validate_dataset_inputs(datasets: Any) -> list[Any]:
    """Check dataset inputs and return them as :class:`~tureen.tracking.entities.DatasetInput` entities.

    Each item is a ``DatasetInput`` (or any object with ``dataset`` and ``tags``) or MLflow's dict shape
    ``{"dataset": {"name", "digest", "source_type", "source", "schema", "profile"}, "tags": [{"key",
    "value"}]}``; ``tags`` may also be a ``{key: value}`` dict. MLflow's limits apply (name ≤ 500, digest ≤ 36,
    source ≤ 65,535, schema ≤ 1,048,575, profile ≤ 16,777,215 characters; tag key ≤ 255, value ≤ 500).

    Example:
        >>> validate_dataset_inputs([{"dataset": {"name": "d", "digest": "ab12", "source_type": "code",
        ...                                       "source": "{}"}}])[0].dataset.name
        'd'
    """
    from tureen.tracking.entities import Dataset, DatasetInput, InputTag

    if datasets is None:
        return []
    if isinstance(datasets, (str, bytes, dict)) or not hasattr(datasets, "__iter__"):
        raise InvalidParameterError(f"Invalid dataset inputs: expected a list, got {type(datasets).__name__}")
    items = list(datasets)
    if len(items) > MAX_DATASETS_PER_CALL:
        raise InvalidParameterError(f"Too many dataset inputs in one call: {len(items)}, at most "
                                    f"{MAX_DATASETS_PER_CALL}")
    out = []
    for i, item in enumerate(items):
        where = f"datasets[{i}]"
        if item is None:
            raise InvalidParameterError(f"Invalid dataset input: {where} is None")
        raw = _field(item, "dataset")
        if raw is None:
            raise InvalidParameterError(f"Invalid dataset input: {where}.dataset is missing")
        values = {name: _dataset_text(_field(raw, name), f"{where}.dataset.{name}", limit, required)
                  for name, limit, required in _DATASET_LIMITS}
        raw_tags = _field(item, "tags") or []
        pairs = list(raw_tags.items()) if isinstance(raw_tags, dict) else [
            (t[0], t[1]) if isinstance(t, tuple) else (_field(t, "key"), _field(t, "value")) for t in raw_tags]
        tags = []
        for j, (key, value) in enumerate(pairs):
            tw = f"{where}.tags[{j}]"
            if not isinstance(key, str) or not key:
                raise InvalidParameterError(f"Invalid dataset input: {tw}.key must be a non-empty string, got "
                                            f"{key!r}")
            if len(key) > MAX_INPUT_TAG_KEY_LENGTH:
                raise InvalidParameterError(f"Invalid dataset input: {tw}.key is {len(key)} characters long, at "
                                            f"most {MAX_INPUT_TAG_KEY_LENGTH} are allowed")
            if value is None:
                raise InvalidParameterError(f"Invalid dataset input: {tw}.value (of {key!r}) is missing")
            value = str(value)
            if len(value) > MAX_INPUT_TAG_VALUE_LENGTH:
                raise InvalidParameterError(f"Invalid dataset input: {tw}.value (of {key!r}) is {len(value)} "
                                            f"characters long, at most {MAX_INPUT_TAG_VALUE_LENGTH} are allowed")
            if any(t.key == key for t in tags):
                raise InvalidParameterError(f"Invalid dataset input: {where} has the tag {key!r} twice")
            tags.append(InputTag(key, value))
        out.append(DatasetInput(Dataset(**values), tags))  # type: ignore[arg-type]
    return out


# -- registry ---------------------------------------------------------------------------------------------

def validate_model_name(name: Any) -> str:
    """A registered model name: non-empty, no ``/`` or ``:``, and path-safe.

    Example:
        >>> validate_model_name("churn")
        'churn'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"Invalid registered model name {name!r}: it must be a non-empty string")
    if "/" in name or ":" in name:
        raise InvalidParameterError(f"Invalid registered model name {name!r}: it must not contain '/' or ':'")
    norm = posixpath.normpath(name)
    if norm != name or name in (".", "..") or "\x00" in name:
        raise InvalidParameterError(f"Invalid registered model name {name!r}: it must not resolve to another "
                                    "path")
    if len(name) > 256:
        raise InvalidParameterError(f"Invalid registered model name: {len(name)} characters, at most 256")
    return name


def validate_registry_tag(key: Any, value: Any) -> tuple[str, str]:
    return _bounded_tag(key, value, "Tag", MAX_REGISTRY_TAG_VALUE_LENGTH)


def validate_alias(alias: Any, *, for_set: bool = True) -> str:
    """An alias: 1-255 of ``[\\w-]``; ``latest`` and ``v<N>`` are reserved (cannot be set).

    Example:
        >>> validate_alias("champion")
        'champion'
    """
    if not isinstance(alias, str) or not alias:
        raise InvalidParameterError(f"Invalid alias {alias!r}: it must be a non-empty string")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterError(f"Invalid alias: {len(alias)} characters, at most {MAX_ALIAS_LENGTH}")
    if not _ALIAS_RE.match(alias):
        raise InvalidParameterError(f"Invalid alias {alias!r}: only letters, digits, '_' and '-' are allowed")
    if for_set and _RESERVED_ALIAS_RE.match(alias):
        raise InvalidParameterError(f"Invalid alias {alias!r}: 'latest' and 'v<number>' are reserved aliases")
    return alias


def validate_version(version: Any) -> int:
    """A model version number, given as int or string of an int.

    Example:
        >>> validate_version("3")
        3
    """
    if isinstance(version, bool):
        raise InvalidParameterError(f"Invalid model version {version!r}: it must be an integer")
    try:
        number = int(str(version).strip())
    except (TypeError, ValueError):
        raise InvalidParameterError(f"Invalid model version {version!r}: it must be an integer") from None
    if number < 1:
        raise InvalidParameterError(f"Invalid model version {version!r}: versions start at 1")
    return number


def canonical_stage(stage: Any) -> str:
    """Map a stage name (any case) to its canonical spelling.

    Example:
        >>> canonical_stage("production")
        'Production'
    """
    from tureen.registry.entities import STAGES

    if isinstance(stage, str):
        for s in STAGES:
            if s.lower() == stage.strip().lower():
                return s
    raise InvalidParameterError(f"Invalid model version stage {stage!r}: it must be one of "
                                f"{', '.join(STAGES)} (any case)")
