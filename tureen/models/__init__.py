"""The MLmodel format: the ``MLmodel`` file, signatures, schema enforcement and input examples.

This package imports nothing from tracking, registry or serving. Heavy names (numpy-backed signature
types) load lazily on first attribute access.
"""

from __future__ import annotations

from tureen._lazy import lazy_attributes
from tureen.models.mlmodel import MLMODEL_FILE_NAME, Model

_LAZY = {
    "ModelSignature": "tureen.models.signature",
    "Schema": "tureen.models.signature",
    "ColSpec": "tureen.models.signature",
    "TensorSpec": "tureen.models.signature",
    "ParamSchema": "tureen.models.signature",
    "ParamSpec": "tureen.models.signature",
    "DataType": "tureen.models.signature",
    "Array": "tureen.models.signature",
    "Object": "tureen.models.signature",
    "Property": "tureen.models.signature",
    "Map": "tureen.models.signature",
    "AnyType": "tureen.models.signature",
    "infer_signature": "tureen.models.signature",
    "enforce_schema": "tureen.models.enforce",
    "enforce_params": "tureen.models.enforce",
    "ModelInfo": "tureen.models.info",
    # evaluation lives above the format layer (it logs to runs); reached only when used
    "evaluate": "tureen.evaluation",
    "make_metric": "tureen.evaluation",
    "EvaluationResult": "tureen.evaluation",
    "EvaluationMetric": "tureen.evaluation",
    "EvaluationArtifact": "tureen.evaluation",
    "MetricValue": "tureen.evaluation",
    "list_evaluators": "tureen.evaluation",
    # MLflow's mlflow.models helpers that need pyfunc or the scoring codec (they live in tureen.pyfunc so
    # that this package imports no upper layer; the strings below are resolved on first use)
    "set_model": "tureen.pyfunc._from_code",
    "ModelConfig": "tureen.pyfunc._from_code",
    "convert_input_example_to_serving_input": "tureen.pyfunc._api",
    "validate_serving_input": "tureen.pyfunc._api",
    "get_model_info": "tureen.pyfunc._api",
    "validate_schema": "tureen.pyfunc._api",
    "ModelInputExample": "tureen.pyfunc._api",
}

__all__ = ["Model", "MLMODEL_FILE_NAME", *_LAZY]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
