"""Model evaluation: ``tureen.models.evaluate`` (MLflow's ``mlflow.models.evaluate``) for classifiers and
regressors, with MLflow's metric and artifact names, logged to the active run.

The package imports nothing heavy; numpy, pandas, scikit-learn and matplotlib load when ``evaluate`` runs.
Tracking is reached only inside functions, so ``tureen.models`` can point at this package lazily.
"""

from __future__ import annotations

from tureen._lazy import lazy_attributes

_LAZY = {
    "evaluate": "tureen.evaluation._evaluate",
    "EvaluationResult": "tureen.evaluation._results",
    "EvaluationArtifact": "tureen.evaluation._results",
    "ImageEvaluationArtifact": "tureen.evaluation._results",
    "CsvEvaluationArtifact": "tureen.evaluation._results",
    "JsonEvaluationArtifact": "tureen.evaluation._results",
    "EvaluationMetric": "tureen.evaluation._results",
    "MetricValue": "tureen.evaluation._results",
    "make_metric": "tureen.evaluation._results",
    "list_evaluators": "tureen.evaluation._evaluate",
}

__all__ = list(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY, globals())
