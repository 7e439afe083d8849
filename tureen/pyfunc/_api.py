"""MLflow's ``mlflow.models`` helpers that need a loaded model or the scoring codec (so they cannot live in
``tureen.models``, which imports no upper layer); ``tureen.models`` re-exports them lazily."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["convert_input_example_to_serving_input", "validate_serving_input", "get_model_info",
           "validate_schema", "ModelInputExample"]

#: what an input example may be (MLflow's type alias): a DataFrame, an array, a dict of arrays, a list, a
#: scalar, or ``(data, params)``
ModelInputExample = Any


def convert_input_example_to_serving_input(input_example: Any) -> str | None:
    """The scoring-server JSON body for an input example (what ``serving_input_example.json`` holds):
    ``{"dataframe_split": ...}`` for a DataFrame, ``{"inputs": ...}`` otherwise; ``(data, params)`` adds
    ``"params"``. None for None.

    Example:
        >>> convert_input_example_to_serving_input({"x": [1, 2]})
        '{\\n  "inputs": {\\n    "x": [\\n      1,\\n      2\\n    ]\\n  }\\n}'
    """
    if input_example is None:
        return None
    from tureen.models.example import _encode, split_example, to_json_value

    data, params = split_example(input_example)
    _, _, serving = _encode(data)
    if params is not None:
        serving = {**serving, "params": to_json_value(params)}
    return json.dumps(serving, indent=2)


def validate_serving_input(model_uri: str | os.PathLike[str], serving_input: str | dict[str, Any]) -> Any:
    """Score ``serving_input`` (a scoring-server JSON body, as text or a dict) with the model at
    ``model_uri`` exactly as ``tureen models serve`` would parse it; return the predictions.

    Raises:
        BadRequestError, SchemaEnforcementError: the body would be refused by the server.

    Example:
        >>> validate_serving_input(model_uri, '{"inputs": [[1.0, 2.0]]}')  # doctest: +SKIP
        array([0])
    """
    from tureen.pyfunc._loader import load_model
    from tureen.serving.codecs import ScoringCodec

    model = load_model(model_uri)
    body = serving_input if isinstance(serving_input, (str, bytes)) else json.dumps(serving_input)
    if isinstance(body, str):
        body = body.encode("utf-8")
    sig = model.metadata.signature
    codec = ScoringCodec(sig.inputs if sig is not None else None, sig.params if sig is not None else None,
                         type_hint_signature=bool(model.metadata.is_signature_from_type_hint))
    parsed = codec.parse(body, "application/json")
    return model.predict(parsed.data, params=parsed.params)


def get_model_info(model_uri: str | os.PathLike[str]) -> Any:
    """The :class:`~tureen.models.ModelInfo` of the model at any model URI (its MLmodel; nothing is loaded).

    Example:
        >>> get_model_info("models:/churn/1").signature  # doctest: +SKIP
    """
    from tureen.models.info import ModelInfo
    from tureen.models.mlmodel import Model
    from tureen.uri import resolve_model_uri

    root = resolve_model_uri(model_uri)
    model = Model.load(root)
    return ModelInfo.from_model(model, model_uri=str(model_uri), name=getattr(model, "name", None))


def validate_schema(data: Any, expected_schema: Any) -> None:
    """Check ``data`` against a schema as ``predict`` would.

    Raises:
        SchemaEnforcementError: every missing, extra and mistyped field, listed.
    """
    from tureen.models.enforce import enforce_schema

    enforce_schema(data, expected_schema)
