"""MLflow's ``mlflow.data``: datasets recorded on runs (``tureen.log_input(dataset, context="train")``).

:func:`from_pandas` and :func:`from_numpy` describe data the way MLflow does: the same digest (an md5 of
the first 10 000 rows and the shape, 8 hex characters), profile, schema and source, so a dataset logged
by tureen and the same one logged by MLflow carry the same record. Nothing here imports pandas or numpy
until a dataset is made.

Example:
    >>> import pandas as pd  # doctest: +SKIP
    >>> ds = from_pandas(pd.DataFrame({"x": [1, 2]}), source="data/train.csv", name="train")  # doctest: +SKIP
    >>> ds.source.uri  # doctest: +SKIP
    'data/train.csv'
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "from_pandas": "tureen.data._datasets",
    "from_numpy": "tureen.data._datasets",
    "get_source": "tureen.data._datasets",
    "Dataset": "tureen.data._datasets",
    "PandasDataset": "tureen.data._datasets",
    "NumpyDataset": "tureen.data._datasets",
    "DatasetSource": "tureen.data._sources",
    "CodeDatasetSource": "tureen.data._sources",
    "HTTPDatasetSource": "tureen.data._sources",
    "FileSystemDatasetSource": "tureen.data._sources",
    "LocalArtifactDatasetSource": "tureen.data._sources",
    "S3ArtifactDatasetSource": "tureen.data._sources",
    "resolve_dataset_source": "tureen.data._sources",
    "get_dataset_source_from_json": "tureen.data._sources",
    "get_registered_sources": "tureen.data._sources",
    # the names MLflow's module imports and so exposes
    "DatasetEntity": "tureen.data._datasets",
    "DatasetInput": "tureen.data._datasets",
    "MlflowException": "tureen.exceptions",
}

#: MLflow's submodule names (``mlflow.data.pandas_dataset.PandasDataset`` ...) -> the module holding them
_SUBMODULES = {
    "dataset": "tureen.data._datasets", "pandas_dataset": "tureen.data._datasets",
    "numpy_dataset": "tureen.data._datasets", "dataset_source": "tureen.data._sources",
    "code_dataset_source": "tureen.data._sources", "http_dataset_source": "tureen.data._sources",
    "filesystem_dataset_source": "tureen.data._sources", "artifact_dataset_sources": "tureen.data._sources",
    "dataset_source_registry": "tureen.data._sources", "digest_utils": "tureen.data._datasets",
    "sources": "tureen.data._sources",
}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    target = _NAMES.get(name)
    if target is not None:
        value = getattr(importlib.import_module(target), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    else:
        raise AttributeError(f"module 'tureen.data' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES) | set(_SUBMODULES))
