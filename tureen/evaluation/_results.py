"""What ``evaluate`` gives back: the result, its artifacts, and user-defined metrics (``make_metric``)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError


class EvaluationArtifact:
    """One file ``evaluate`` logged: its artifact ``uri`` and its ``content`` (read from the local copy, or
    downloaded on first access).

    Example:
        >>> JsonEvaluationArtifact("runs:/r/x.json", content={"a": 1}).content
        {'a': 1}
    """

    def __init__(self, uri: str, content: Any = None, local_path: str | os.PathLike[str] | None = None) -> None:
        self._uri = uri
        self._content = content
        self._local_path = Path(local_path) if local_path is not None else None

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def content(self) -> Any:
        if self._content is None:
            self._content = self._read(self._fetch())
        return self._content

    def _fetch(self) -> Path:
        if self._local_path is not None and self._local_path.exists():
            return self._local_path
        import tempfile

        from tureen.artifacts._download import download_artifact_uri

        self._local_path = download_artifact_uri(self._uri, tempfile.mkdtemp(prefix="tureen-eval-"))
        return self._local_path

    def _read(self, path: Path) -> Any:  # pragma: no cover - each kind reads its own format
        return path.read_bytes()

    def _save(self, path: str | os.PathLike[str]) -> None:
        shutil.copyfile(self._fetch(), path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri={self._uri!r})"


class ImageEvaluationArtifact(EvaluationArtifact):
    """A PNG plot; ``content`` is a PIL image when Pillow is installed, else the PNG bytes."""

    def _read(self, path: Path) -> Any:
        try:
            from PIL import Image
        except ImportError:
            return path.read_bytes()
        with Image.open(path) as img:
            img.load()
            return img.copy()


class CsvEvaluationArtifact(EvaluationArtifact):
    """A table saved as CSV; ``content`` is a pandas DataFrame."""

    def _read(self, path: Path) -> Any:
        import pandas as pd

        return pd.read_csv(path)


class JsonEvaluationArtifact(EvaluationArtifact):
    """A JSON document; ``content`` is the parsed value."""

    def _read(self, path: Path) -> Any:
        return json.loads(path.read_text())


class EvaluationResult:
    """Metrics (name -> number) and artifacts (name -> :class:`EvaluationArtifact`) of one ``evaluate`` call,
    and the run they were logged to.

    Example:
        >>> EvaluationResult({"accuracy_score": 1.0}, {}, "r1").metrics
        {'accuracy_score': 1.0}
    """

    def __init__(self, metrics: dict[str, Any], artifacts: dict[str, EvaluationArtifact],
                 run_id: str | None = None) -> None:
        self._metrics = metrics
        self._artifacts = artifacts
        self._run_id = run_id

    @property
    def metrics(self) -> dict[str, Any]:
        return self._metrics

    @property
    def artifacts(self) -> dict[str, EvaluationArtifact]:
        return self._artifacts

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def tables(self) -> dict[str, Any]:
        """The CSV artifacts as DataFrames (``per_class_metrics`` for a multiclass classifier)."""
        return {k: a.content for k, a in self._artifacts.items() if isinstance(a, CsvEvaluationArtifact)}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``metrics.json``, ``artifacts_metadata.json`` and ``artifacts/`` (MLflow's layout) under path."""
        root = Path(path)
        (root / "artifacts").mkdir(parents=True, exist_ok=True)
        (root / "metrics.json").write_text(json.dumps(self._metrics))
        meta = {name: {"uri": a.uri, "class_name": f"{type(a).__module__}.{type(a).__name__}"}
                for name, a in self._artifacts.items()}
        (root / "artifacts_metadata.json").write_text(json.dumps(meta))
        for art in self._artifacts.values():
            art._save(root / "artifacts" / art.uri.rstrip("/").rsplit("/", 1)[-1])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "EvaluationResult":
        """Read back what :meth:`save` wrote (artifact kinds are ours, whatever class name the file gives)."""
        root = Path(path)
        metrics = json.loads((root / "metrics.json").read_text())
        kinds = {"ImageEvaluationArtifact": ImageEvaluationArtifact, "CsvEvaluationArtifact": CsvEvaluationArtifact,
                 "JsonEvaluationArtifact": JsonEvaluationArtifact}
        artifacts: dict[str, EvaluationArtifact] = {}
        for name, meta in json.loads((root / "artifacts_metadata.json").read_text()).items():
            kind = kinds.get(str(meta.get("class_name", "")).rsplit(".", 1)[-1], JsonEvaluationArtifact)
            local = root / "artifacts" / str(meta["uri"]).rstrip("/").rsplit("/", 1)[-1]
            if local.resolve().parent != (root / "artifacts").resolve():
                raise InvalidParameterError(f"Artifact {name!r} names a file outside {root / 'artifacts'}")
            artifacts[name] = kind(meta["uri"], local_path=local)
        return cls(metrics, artifacts)

    def __repr__(self) -> str:
        return f"EvaluationResult(metrics={len(self._metrics)}, artifacts={sorted(self._artifacts)})"


@dataclass
class MetricValue:
    """What a metric function may return: per-row ``scores``, ``justifications`` and ``aggregate_results``."""

    scores: list[Any] | None = None
    justifications: list[Any] | None = None
    aggregate_results: dict[str, Any] | None = None


@dataclass
class EvaluationMetric:
    """A user metric for ``evaluate(extra_metrics=[...])``; make one with :func:`make_metric`."""

    eval_fn: Callable[..., Any]
    name: str
    greater_is_better: bool = True
    long_name: str | None = None
    version: str | None = None
    metric_details: str | None = None
    metric_metadata: dict[str, Any] | None = None
    genai_metric_args: dict[str, Any] | None = field(default=None, repr=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.eval_fn(*args, **kwargs)


def make_metric(*, eval_fn: Callable[..., Any], greater_is_better: bool, name: str | None = None,
                long_name: str | None = None, version: str | None = None, metric_details: str | None = None,
                metric_metadata: dict[str, Any] | None = None, genai_metric_args: dict[str, Any] | None = None
                ) -> EvaluationMetric:
    """A metric for ``evaluate(extra_metrics=...)``, as MLflow's ``make_metric``.

    ``eval_fn`` takes ``(predictions, targets, metrics)`` (parameters matched by name; other names are
    input columns) or the older ``(eval_df, builtin_metrics)``, and returns a number or a :class:`MetricValue`.

    Example:
        >>> m = make_metric(eval_fn=lambda predictions, targets: float((predictions == targets).mean()),
        ...                 greater_is_better=True, name="hits")
        >>> m.name
        'hits'
    """
    if not callable(eval_fn):
        raise InvalidParameterError("make_metric needs a callable eval_fn")
    if name is None:
        name = getattr(eval_fn, "__name__", None)
        if not name or name == "<lambda>":
            raise InvalidParameterError("make_metric: give a name (eval_fn is a lambda)")
    return EvaluationMetric(eval_fn, name, greater_is_better, long_name, version, metric_details, metric_metadata,
                            genai_metric_args)
