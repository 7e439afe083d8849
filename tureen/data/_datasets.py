"""Datasets over pandas DataFrames and numpy arrays, described as MLflow describes them.

A dataset's record on a run is ``name``, ``digest``, ``source_type``, ``source`` (JSON), ``schema`` (JSON)
and ``profile`` (JSON). The digest is MLflow's: md5 over pandas' row hashes of the first 10 000 rows (string
and numeric columns), the row count and the column names, cut to 8 hex characters; for numpy, over the
flattened first 10 000 values and the shape of features and targets.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from tureen.data._sources import CodeDatasetSource, DatasetSource, resolve_dataset_source
from tureen.exceptions import InvalidParameterError

__all__ = ["Dataset", "PandasDataset", "NumpyDataset", "from_pandas", "from_numpy", "get_source",
           "compute_pandas_digest", "compute_numpy_digest", "DatasetEntity", "DatasetInput"]


def __getattr__(name: str) -> Any:
    # the run-record entities under the names MLflow's mlflow.data exposes them
    if name in ("DatasetEntity", "DatasetInput"):
        from tureen.tracking import entities

        return entities.Dataset if name == "DatasetEntity" else entities.DatasetInput
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compute_pandas_digest(df: Any) -> str:
    from tureen.autolog._common import _pandas_digest

    return _pandas_digest(df)


def compute_numpy_digest(features: Any, targets: Any = None) -> str:
    from tureen.autolog._common import _numpy_digest

    return _numpy_digest(features, targets)


class Dataset:
    """Base of the datasets: ``name`` (default ``"dataset"``), ``digest``, ``source``, ``schema``,
    ``profile``; ``to_dict``/``to_json`` give the run record."""

    def __init__(self, source: DatasetSource, name: str | None = None, digest: str | None = None) -> None:
        self._name = name
        self._source = source
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> DatasetSource:
        return self._source

    @property
    def profile(self) -> Any:
        return None

    @property
    def schema(self) -> Any:
        return None

    def _schema_json(self) -> str | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "digest": self.digest, "source": self.source.to_json(),
                "source_type": self.source._get_source_type(), "schema": self._schema_json(),
                "profile": json.dumps(self.profile)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> Any:
        """The run-record entity (:class:`tureen.entities.Dataset`) that ``log_input`` stores."""
        from tureen.tracking.entities import Dataset as DatasetEntity

        d = self.to_dict()
        return DatasetEntity(name=d["name"], digest=d["digest"], source_type=d["source_type"], source=d["source"],
                             schema=d.get("schema"), profile=d.get("profile"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} digest={self.digest!r}>"


class PandasDataset(Dataset):
    """A DataFrame, with optional ``targets`` and ``predictions`` column names."""

    def __init__(self, df: Any, source: DatasetSource, targets: str | None = None, name: str | None = None,
                 digest: str | None = None, predictions: str | None = None) -> None:
        for what, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                raise InvalidParameterError(f"The DataFrame has no {what} column {column!r}")
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return compute_pandas_digest(self._df)

    @property
    def df(self) -> Any:
        return self._df

    @property
    def targets(self) -> str | None:
        return self._targets

    @property
    def predictions(self) -> str | None:
        return self._predictions

    @property
    def profile(self) -> dict[str, int]:
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Any:
        from tureen.models.signature import infer_schema

        try:
            return infer_schema(self._df)
        except Exception:  # noqa: BLE001 - as MLflow: a frame whose schema cannot be inferred has none
            return None

    def _schema_json(self) -> str | None:
        return json.dumps({"mlflow_colspec": self.schema.to_dict()}) if self.schema else None


class NumpyDataset(Dataset):
    """Features (an array or a dict of arrays) and optional targets."""

    def __init__(self, features: Any, source: DatasetSource, targets: Any = None, name: str | None = None,
                 digest: str | None = None) -> None:
        self._features = features
        self._targets = targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return compute_numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        return self._features

    @property
    def targets(self) -> Any:
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        def attr(data: Any, name: str) -> Any:
            if isinstance(data, dict):
                return {k: getattr(v, name) for k, v in data.items()}
            return getattr(data, name)

        profile = {"features_shape": attr(self._features, "shape"), "features_size": attr(self._features, "size"),
                   "features_nbytes": attr(self._features, "nbytes")}
        if self._targets is not None:
            profile.update(targets_shape=attr(self._targets, "shape"), targets_size=attr(self._targets, "size"),
                           targets_nbytes=attr(self._targets, "nbytes"))
        return profile

    @cached_property
    def schema(self) -> Any:
        from tureen.models.signature import infer_schema

        try:
            features = infer_schema(self._features)
            targets = infer_schema(self._targets) if self._targets is not None else None
        except Exception:  # noqa: BLE001
            return None
        return {"features": features, "targets": targets}

    def _schema_json(self) -> str | None:
        schema = self.schema
        if not schema:
            return None
        targets = schema["targets"]
        return json.dumps({"mlflow_tensorspec": {"features": schema["features"].to_json(),
                                                 "targets": targets.to_json() if targets is not None else None}})


def _source(source: Any) -> DatasetSource:
    if source is None:
        from tureen.tracking.fluent import _source_tags

        return CodeDatasetSource(tags=_source_tags())
    if isinstance(source, DatasetSource):
        return source
    return resolve_dataset_source(source)


def from_pandas(df: Any, source: Any = None, targets: str | None = None, name: str | None = None,
                digest: str | None = None, predictions: str | None = None) -> PandasDataset:
    """A :class:`PandasDataset` of ``df``; ``source`` is a path, URI or :class:`DatasetSource` (default: the code
    that made it).

    Example:
        >>> ds = from_pandas(df, targets="label", name="train")  # doctest: +SKIP
        >>> tureen.log_input(ds, context="training")  # doctest: +SKIP
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidParameterError(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    return PandasDataset(df, _source(source), targets=targets, name=name, digest=digest, predictions=predictions)


def from_numpy(features: Any, source: Any = None, targets: Any = None, name: str | None = None,
               digest: str | None = None) -> NumpyDataset:
    """A :class:`NumpyDataset` of ``features`` (an array or a dict of arrays) and optional ``targets``.

    Example:
        >>> ds = from_numpy(X, targets=y, source="s3://bucket/train.npz")  # doctest: +SKIP
    """
    import numpy as np

    def check(value: Any, what: str) -> None:
        values = value.values() if isinstance(value, dict) else [value]
        if not all(isinstance(v, np.ndarray) for v in values):
            raise InvalidParameterError(f"from_numpy's {what} must be a numpy array or a dict of them")

    check(features, "features")
    if targets is not None:
        check(targets, "targets")
    return NumpyDataset(features, _source(source), targets=targets, name=name, digest=digest)


def get_source(dataset: Any) -> DatasetSource:
    """The :class:`DatasetSource` of a dataset, a run's dataset record, or a dataset input.

    Example:
        >>> get_source(run.inputs.dataset_inputs[0]).uri  # doctest: +SKIP
        'data/train.csv'
    """
    from tureen.data._sources import get_dataset_source_from_json
    from tureen.tracking.entities import Dataset as DatasetEntity
    from tureen.tracking.entities import DatasetInput

    if isinstance(dataset, DatasetInput):
        dataset = dataset.dataset
    if isinstance(dataset, DatasetEntity):
        return get_dataset_source_from_json(dataset.source, dataset.source_type)
    if isinstance(dataset, Dataset):
        return dataset.source
    raise InvalidParameterError(f"get_source takes a dataset, a run's dataset record or a dataset input, got "
                                f"{type(dataset).__name__}")
